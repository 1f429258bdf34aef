import { open, rename, unlink } from 'node:fs/promises'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import { MAGIC, OP_PUT, encodeRecord, type Op } from './record-format'
import { KeyTable } from './key-table'
import type { LogWrite, LogWriter } from './log-writer'
import { syncDirectory } from './sync-directory'
import type { KvObserver } from './store'

/** A write as the compactor needs it: its record for the new log, and what it does to the table. */
export interface TailWrite extends LogWrite {
  op: Op
  /** UTF-8 bytes of the key. */
  key: Buffer
  value: Buffer
}

export interface CompactorOptions {
  path: string
  /** Compaction starts by itself once the log is at least this many bytes ... */
  compactMinBytes: number
  /** ... and at least this many times the size of the live data. */
  compactRatio: number
  log: FastifyBaseLogger
  observer?: KvObserver
  writer: LogWriter<TailWrite>
  /** The table the store serves from now. */
  table(): KeyTable
  /** Serve from `table` from now on: the same live data, in memory of its own. Called in the writer lane. */
  replaceTable(table: KeyTable): void
}

const COMPACT_WRITE_CHUNK = 1024 * 1024
const COMPACT_YIELD_EVERY = 5000

/**
 * Rewrites the log as one PUT per live key, without stopping writers: the
 * table is copied in slices (yielding to the event loop), every write flushed
 * meanwhile is also kept as a tail, and only the final tail-append + rename
 * runs in the writer lane. Replaying the tail after the snapshot gives exactly
 * the current state even though the snapshot saw some of those writes already.
 *
 * The table is rebuilt the same way, into fresh memory: after a replay its
 * keys and values point into the 16 MiB read chunks, whose deleted and
 * overwritten records would otherwise stay in memory until the next restart.
 */
export class Compactor {
  /** Writes flushed since the running compaction started; undefined when none runs. */
  private tail: TailWrite[] | undefined
  private done: Promise<void> = Promise.resolve()

  constructor(private readonly opts: CompactorOptions) {}

  /** Resolves when the running compaction (if any) has finished, successfully or not. */
  get finished(): Promise<void> { return this.done }

  /** To be told of every batch the writer flushed, in order. */
  written(batch: TailWrite[]): void {
    if (this.tail) for (const w of batch) this.tail.push(w)
  }

  /** Starts a compaction if the log has outgrown `liveBytes` (what it would weigh compacted) enough. */
  maybeStart(liveBytes: number): void {
    const { compactMinBytes, compactRatio, writer } = this.opts
    if (this.tail || writer.refusal) return
    if (writer.bytes < compactMinBytes || writer.bytes < compactRatio * (liveBytes + MAGIC.length)) return
    void this.compact()
  }

  /** Starts a compaction unless one is running; resolves when it finished (errors are logged). */
  compact(): Promise<void> {
    if (this.tail) return this.done
    this.done = this.rewrite().catch((err: Error) => {
      this.tail = undefined
      this.opts.log.error({ err }, this.opts.writer.refusal
        ? 'key-value log compaction failed; the log takes no more writes until restart'
        : 'key-value log compaction failed; the old log stays in use')
    })
    return this.done
  }

  private async rewrite(): Promise<void> {
    const { path, log, writer } = this.opts
    const tmpPath = `${path}.compact`
    const started = process.hrtime.bigint()
    const before = writer.bytes
    this.tail = []
    const tmp = await open(tmpPath, 'w')
    try {
      const source = this.opts.table()
      const table = KeyTable.sized(source.size, source.liveDataBytes)
      let chunk: Buffer[] = [MAGIC]
      let chunkBytes = MAGIC.length
      let written = 0
      let n = 0
      for (const [key, value] of source.entries()) {
        table.copyIn(key, value)
        const rec = encodeRecord(OP_PUT, key, value)
        chunk.push(rec)
        chunkBytes += rec.length
        if (chunkBytes >= COMPACT_WRITE_CHUNK) {
          await tmp.writev(chunk)
          written += chunkBytes
          chunk = []
          chunkBytes = 0
        }
        if (++n % COMPACT_YIELD_EVERY === 0) await yieldToEventLoop()
      }
      await writer.exclusive(async () => {
        for (const w of this.tail!) {
          chunk.push(w.record)
          chunkBytes += w.record.length
          if (w.op === OP_PUT) table.set(w.key, w.value)
          else table.delete(w.key)
        }
        await tmp.writev(chunk)
        written += chunkBytes
        await tmp.datasync()
        await tmp.close()
        await rename(tmpPath, path)
        try {
          await syncDirectory(path)
          await writer.reopen(written)
        } catch (err) {
          // Past the rename there is no going back: the old handle writes to a replaced file,
          // or the rename may not survive a crash, and either loses acknowledged writes.
          writer.fail(err as Error)
          throw err
        }
        this.tail = undefined
        this.opts.replaceTable(table)
      })
    } catch (err) {
      await tmp.close().catch(() => {})
      await unlink(tmpPath).catch(() => {})
      throw err
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    this.opts.observer?.onCompaction?.(seconds, before, writer.bytes)
    log.info({ path, bytesBefore: before, bytesAfter: writer.bytes, seconds }, 'key-value log compacted')
  }
}
