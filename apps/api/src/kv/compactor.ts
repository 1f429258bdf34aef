import { open, rename, unlink } from 'node:fs/promises'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import { FORMAT_V2, MAGIC_BYTES, OP_PUT, encodeBatchV2, recordSize, type LogRecord } from './record-format'
import { KeyTable } from './key-table'
import type { LogWrite, LogWriter } from './log-writer'
import { syncDirectory } from './sync-directory'
import type { KvObserver } from './store'

export interface CompactorOptions {
  path: string
  /** Compaction starts by itself once the log is at least this many bytes ... */
  compactMinBytes: number
  /** ... and at least this many times the size of the live data. */
  compactRatio: number
  log: FastifyBaseLogger
  observer?: KvObserver
  writer: LogWriter<LogWrite>
  /** The table the store serves from now. */
  table(): KeyTable
  /** Serve from `table` from now on: the same live data, in memory of its own. Called in the writer lane. */
  replaceTable(table: KeyTable): void
}

/**
 * The compacted log is written in v2 batches of about this many bytes: large
 * enough that checksums and writes are few, small enough to fit the replay's
 * chunk headroom (so a batch crossing a read chunk costs no copy of the chunk).
 */
const COMPACT_BATCH_BYTES = 512 * 1024
const COMPACT_YIELD_EVERY = 5000

/**
 * Rewrites the log as one PUT per live key, in format v2 whatever the
 * version of the log it replaces, without stopping writers: the
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
  private tail: LogWrite[] | undefined
  private done: Promise<void> = Promise.resolve()

  constructor(private readonly opts: CompactorOptions) {}

  /** Resolves when the running compaction (if any) has finished, successfully or not. */
  get finished(): Promise<void> { return this.done }

  /** To be told of every batch the writer flushed, in order. */
  written(batch: LogWrite[]): void {
    if (this.tail) for (const w of batch) this.tail.push(w)
  }

  /** Starts a compaction if the log has outgrown `liveBytes` (what it would weigh compacted) enough. */
  maybeStart(liveBytes: number): void {
    const { compactMinBytes, compactRatio, writer } = this.opts
    if (this.tail || writer.refusal) return
    if (writer.bytes < compactMinBytes || writer.bytes < compactRatio * (liveBytes + MAGIC_BYTES)) return
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
      let batch: LogRecord[] = []
      let batchBytes = 0
      await tmp.writeFile(FORMAT_V2.magic)
      let written = FORMAT_V2.magic.length
      const writeBatch = async (): Promise<void> => {
        const encoded = encodeBatchV2(batch)
        await tmp.writeFile(encoded)
        written += encoded.length
        batch = []
        batchBytes = 0
      }
      let n = 0
      for (const [key, value] of source.entries()) {
        table.copyIn(key, value)
        batch.push({ op: OP_PUT, key, value })
        batchBytes += recordSize(key.length, value.length)
        if (batchBytes >= COMPACT_BATCH_BYTES) await writeBatch()
        if (++n % COMPACT_YIELD_EVERY === 0) await yieldToEventLoop()
      }
      await writer.exclusive(async () => {
        // The tail is re-encoded in v2 whatever the old log's version: the compacted log is v2 throughout.
        for (const w of this.tail!) {
          batch.push(w)
          if (w.op === OP_PUT) table.set(w.key, w.value)
          else table.delete(w.key)
        }
        if (batch.length > 0) await writeBatch()
        await tmp.datasync()
        await tmp.close()
        await rename(tmpPath, path)
        try {
          await syncDirectory(path)
          await writer.reopen(written, FORMAT_V2)
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
