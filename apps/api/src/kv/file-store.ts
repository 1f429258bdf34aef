import { open, rename, unlink, type FileHandle } from 'node:fs/promises'
import { mkdirSync, openSync, fsyncSync, closeSync } from 'node:fs'
import { dirname } from 'node:path'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import { MAGIC, OP_DELETE, OP_PUT, encodeRecord, recordSize, type Op } from './record-format'
import { replayLog } from './replay'
import { KeyTable } from './key-table'
import { KvFullError, KvUnavailableError, type KvObserver, type KvStore } from './store'

export type FsyncPolicy = 'always' | 'batch' | 'off'

export interface FileKvStoreOptions {
  path: string
  fsync: FsyncPolicy
  /** Compaction runs once the log is at least this many bytes ... */
  compactMinBytes: number
  /** ... and at least this many times the size of the live data. */
  compactRatio: number
  log: FastifyBaseLogger
  observer?: KvObserver
  /** Cap on live keys + values (KV_MAX_TOTAL_BYTES); a PUT past it fails with KvFullError. Default: none. */
  maxLiveBytes?: number
}

interface PendingWrite {
  op: Op
  /** UTF-8 bytes of the key. */
  key: Buffer
  record: Buffer
  value: Buffer
  /** Bytes this PUT holds in reservedBytes until it is applied or refused. */
  reserved: number
  resolve: () => void
  reject: (err: Error) => void
}

const BATCH_SYNC_MS = 10
const COMPACT_WRITE_CHUNK = 1024 * 1024
const COMPACT_YIELD_EVERY = 5000
/** Bytes a live entry occupies in liveBytes beyond its key and value (the record header). */
const RECORD_OVERHEAD = recordSize(0, 0)

/**
 * The key-value store as an append-only log file with an in-memory index,
 * replayed at start-up (Cloud Native Go ch. 5, with the book's gaps fixed).
 *
 * Writes are serialised through one queue: while one batch is being written and
 * fsynced, new writes collect and go out together in the next batch (group
 * commit), so concurrent writers share one fsync under `always`. A value is
 * visible to readers only once its record is in the log under the policy.
 */
export class FileKvStore implements KvStore {
  private data = new KeyTable()
  private pending: PendingWrite[] = []
  private flushQueued = false
  private chain: Promise<void> = Promise.resolve()
  private fh!: FileHandle
  private logBytes = 0
  private liveBytes = 0
  /** Key + value bytes of PUTs accepted but not yet applied; counted against the cap in full. */
  private reservedBytes = 0
  private failure: Error | undefined
  private batchSyncTimer: NodeJS.Timeout | undefined
  private compaction: { tail: Buffer[] } | undefined
  private compactionDone: Promise<void> = Promise.resolve()

  private constructor (private readonly opts: FileKvStoreOptions) {}

  /** Opens (creating if missing) and replays the log. Throws KvLogCorruptError on damage. */
  static async open(opts: FileKvStoreOptions): Promise<FileKvStore> {
    const store = new FileKvStore(opts)
    try {
      await store.replay()
    } catch (err) {
      await store.fh?.close().catch(() => {})
      throw err
    }
    return store
  }

  get size(): number { return this.data.size }
  get bytes(): { log: number; live: number } { return { log: this.logBytes, live: this.liveBytes } }
  /** Keys + values of live entries: what KV_MAX_TOTAL_BYTES caps. */
  get liveDataBytes(): number { return this.liveBytes - RECORD_OVERHEAD * this.data.size }

  async get(key: string): Promise<Buffer | undefined> {
    return this.data.get(Buffer.from(key, 'utf8'))
  }

  put(key: string, value: Buffer): Promise<void> {
    return this.append(OP_PUT, key, value)
  }

  delete(key: string): Promise<void> {
    return this.append(OP_DELETE, key, Buffer.alloc(0))
  }

  async close(): Promise<void> {
    await this.compactionDone
    await this.exclusive(async () => {
      clearTimeout(this.batchSyncTimer)
      if (!this.failure) {
        await this.fh.datasync()
        this.failure = new KvUnavailableError('store closed')
      }
      await this.fh.close()
    })
  }

  /** Waits until every write accepted so far has been flushed (and a running compaction finished). */
  async drain(): Promise<void> {
    await this.exclusive(async () => {})
    await this.compactionDone
  }

  private append(op: Op, key: string, value: Buffer): Promise<void> {
    if (this.failure) return Promise.reject(this.unavailable())
    const keyBytes = Buffer.from(key, 'utf8')
    const reserved = op === OP_PUT ? this.reserve(keyBytes, value) : 0
    if (reserved < 0) return Promise.reject(new KvFullError(this.opts.maxLiveBytes!))
    return new Promise((resolve, reject) => {
      const record = encodeRecord(op, keyBytes, value)
      this.pending.push({ op, key: keyBytes, record, value, reserved, resolve, reject })
      if (!this.flushQueued) {
        this.flushQueued = true
        void this.exclusive(() => this.flush())
      }
    })
  }

  /**
   * Holds the PUT's key + value bytes against the cap, or returns -1 when it
   * would pass it. The value it replaces is credited now; PUTs still in flight
   * count in full, so concurrent writers can only be refused early, never let
   * past the cap.
   */
  private reserve(key: Buffer, value: Buffer): number {
    const max = this.opts.maxLiveBytes ?? Infinity
    const size = key.length + value.length
    const old = this.data.get(key)
    const freed = old === undefined ? 0 : key.length + old.length
    if (this.liveDataBytes + this.reservedBytes + size - freed > max) return -1
    this.reservedBytes += size
    return size
  }

  /** Runs `fn` after everything queued before it: the single writer lane for the file handle. */
  private exclusive(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn)
    this.chain = run.catch(() => {})
    return run
  }

  private async flush(): Promise<void> {
    this.flushQueued = false
    const batch = this.pending
    this.pending = []
    if (batch.length === 0) return
    if (this.failure) {
      this.refuse(batch)
      return
    }
    try {
      const buffers = batch.map((w) => w.record)
      await this.writeAll(buffers)
      if (this.opts.fsync === 'always') await this.sync(batch.length)
      if (this.compaction) for (const b of buffers) this.compaction.tail.push(b)
    } catch (err) {
      // Once a write or fsync failed the kernel may have dropped dirty pages: we can no
      // longer tell what is on disk, so refuse every further write instead of guessing.
      this.fail(err as Error)
      this.refuse(batch)
      return
    }
    for (const w of batch) {
      // Released only now: while the batch was being written its bytes were neither live nor free.
      this.reservedBytes -= w.reserved
      this.apply(w.op, w.key, w.value)
      w.resolve()
    }
    if (this.opts.fsync === 'batch' && !this.batchSyncTimer) {
      this.batchSyncTimer = setTimeout(() => {
        void this.exclusive(async () => {
          this.batchSyncTimer = undefined
          if (!this.failure) await this.sync(0).catch((err: Error) => this.fail(err))
        })
      }, BATCH_SYNC_MS)
    }
    this.maybeCompact()
  }

  private refuse(batch: PendingWrite[]): void {
    for (const w of batch) {
      this.reservedBytes -= w.reserved
      w.reject(this.unavailable())
    }
  }

  private async writeAll(buffers: Buffer[]): Promise<void> {
    let total = 0
    for (const b of buffers) total += b.length
    const { bytesWritten } = await this.fh.writev(buffers)
    if (bytesWritten < total) {
      // Short writes are rare on regular files but legal; finish the batch byte-exactly.
      const rest = Buffer.concat(buffers).subarray(bytesWritten)
      await this.fh.write(rest, 0, rest.length)
    }
    this.logBytes += total
  }

  private async sync(records: number): Promise<void> {
    const started = process.hrtime.bigint()
    await this.fh.datasync()
    this.opts.observer?.onSync?.(Number(process.hrtime.bigint() - started) / 1e9, records)
  }

  /** The error every write gets once the log has failed or closed. */
  private unavailable(): Error {
    const failure = this.failure!
    return failure instanceof KvUnavailableError ? failure : new KvUnavailableError(failure.message)
  }

  private fail(err: Error): void {
    if (this.failure) return
    this.failure = err
    this.opts.log.error({ err, path: this.opts.path }, 'key-value log write failed; refusing further writes until restart')
  }

  private apply(op: Op, key: Buffer, value: Buffer): void {
    const old = op === OP_PUT ? this.data.set(key, value) : this.data.delete(key)
    if (old !== undefined) this.liveBytes -= recordSize(key.length, old.length)
    if (op === OP_PUT) this.liveBytes += recordSize(key.length, value.length)
  }

  private async replay(): Promise<void> {
    const { path, log } = this.opts
    mkdirSync(dirname(path), { recursive: true })
    await unlink(`${path}.compact`).catch(() => {})
    const started = process.hrtime.bigint()
    this.fh = await open(path, 'a+')
    const { size } = await this.fh.stat()
    if (size === 0) {
      await this.fh.write(MAGIC)
      await this.fh.datasync()
      syncDirectory(path)
      this.logBytes = MAGIC.length
      return
    }
    const result = await replayLog(this.fh, size, path)
    this.data = result.data
    this.liveBytes = result.liveBytes
    this.logBytes = result.validBytes
    if (result.torn) {
      log.warn({ path, offset: result.torn.offset, droppedBytes: size - result.torn.offset, reason: result.torn.reason },
        'key-value log ends in a torn record (crash mid-write); dropping it')
      await this.fh.truncate(result.torn.offset)
      await this.fh.datasync()
    }
    this.finishReplay(result.records, started)
  }

  private finishReplay(records: number, started: bigint): void {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    this.opts.log.info({ path: this.opts.path, records, keys: this.data.size, bytes: this.logBytes, seconds },
      'key-value log replayed')
  }

  private maybeCompact(): void {
    const { compactMinBytes, compactRatio } = this.opts
    if (this.compaction || this.failure) return
    if (this.logBytes < compactMinBytes || this.logBytes < compactRatio * (this.liveBytes + MAGIC.length)) return
    void this.compact().catch(() => {})
  }

  /** Starts a compaction unless one is running; resolves when it finished (errors are logged). */
  compact(): Promise<void> {
    if (this.compaction) return this.compactionDone
    this.compactionDone = this.rewrite().catch((err: Error) => {
      this.compaction = undefined
      this.opts.log.error({ err }, 'key-value log compaction failed; the old log stays in use')
    })
    return this.compactionDone
  }

  /**
   * Rewrites the live set into a new log without stopping writers: the map is
   * copied in slices (yielding to the event loop), every write flushed meanwhile
   * is also kept as a tail, and only the final tail-append + rename runs in the
   * writer lane. Replaying the tail after the snapshot gives exactly the current
   * state even though the snapshot saw some of those writes already.
   */
  private async rewrite(): Promise<void> {
    const { path, log } = this.opts
    const tmpPath = `${path}.compact`
    const started = process.hrtime.bigint()
    const before = this.logBytes
    this.compaction = { tail: [] }
    const tmp = await open(tmpPath, 'w')
    try {
      let chunk: Buffer[] = [MAGIC]
      let chunkBytes = MAGIC.length
      let written = 0
      let n = 0
      for (const [key, value] of this.data.entries()) {
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
      await this.exclusive(async () => {
        const compaction = this.compaction!
        for (const b of compaction.tail) {
          chunk.push(b)
          chunkBytes += b.length
        }
        await tmp.writev(chunk)
        written += chunkBytes
        await tmp.datasync()
        await tmp.close()
        await rename(tmpPath, path)
        syncDirectory(path)
        await this.fh.close()
        this.fh = await open(path, 'a+')
        this.logBytes = written
        this.compaction = undefined
      })
    } catch (err) {
      await tmp.close().catch(() => {})
      await unlink(tmpPath).catch(() => {})
      throw err
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    this.opts.observer?.onCompaction?.(seconds, before, this.logBytes)
    log.info({ path, bytesBefore: before, bytesAfter: this.logBytes, seconds }, 'key-value log compacted')
  }
}

/** fsync the directory so a created or renamed log file survives a power loss. */
function syncDirectory(file: string): void {
  const fd = openSync(dirname(file), 'r')
  try { fsyncSync(fd) } finally { closeSync(fd) }
}
