import { open, type FileHandle } from 'node:fs/promises'
import type { FastifyBaseLogger } from 'fastify'
import type { KvObserver } from './store'
import { KvUnavailableError } from '../errors'
import type { LogFormat, LogRecord } from './record-format'

export type FsyncPolicy = 'always' | 'batch' | 'off'

/** What the writer needs of a write (the record); callers extend it with what they apply once it is written. */
export type LogWrite = LogRecord

export interface LogWriterOptions<W extends LogWrite> {
  path: string
  /** The version of the log file: each batch is encoded in it when it is written. */
  format: LogFormat
  fsync: FsyncPolicy
  log: FastifyBaseLogger
  observer?: KvObserver
  /**
   * A batch is in the log under the policy. Called in log order before any of
   * its writers hear so, and before the next batch is written, so whatever it
   * applies is visible exactly when the write is acknowledged.
   */
  written(batch: W[]): void
  /** These writes will never be written (the log failed or closed); called before their writers hear so. */
  refused(batch: W[]): void
}

interface Queued<W> {
  write: W
  resolve: () => void
  reject: (err: Error) => void
}

const BATCH_SYNC_MS = 10

/**
 * The single writer of the log file. Every operation on the file handle runs
 * in one lane (`exclusive`), one after the other. While one batch is being
 * written and fsynced, new writes collect and go out together in the next one
 * (group commit), so concurrent writers share one writev and, under `always`,
 * one fsync; in a v2 log they also share one batch with one checksum.
 */
export class LogWriter<W extends LogWrite> {
  private pending: Array<Queued<W>> = []
  private flushQueued = false
  private chain: Promise<void> = Promise.resolve()
  private batchSyncTimer: NodeJS.Timeout | undefined
  private failure: Error | undefined
  private format: LogFormat

  /** `fh` is open for appending and `bytes` long; from now on only this writer touches it. */
  constructor(private fh: FileHandle, private logBytes: number, private readonly opts: LogWriterOptions<W>) {
    this.format = opts.format
  }

  /** Bytes in the log file, fsynced or not. */
  get bytes(): number { return this.logBytes }

  /** The error every write gets from now on, or undefined while writes are taken. */
  get refusal(): Error | undefined {
    return this.failure && this.unavailable()
  }

  /** Resolves once `write` is in the log under the policy; rejects with KV_UNAVAILABLE if it never will be. */
  append(write: W): Promise<void> {
    if (this.failure) {
      this.opts.refused([write])
      return Promise.reject(this.unavailable())
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ write, resolve, reject })
      if (!this.flushQueued) {
        this.flushQueued = true
        void this.exclusive(() => this.flush())
      }
    })
  }

  /** Runs `fn` in the lane: after every write queued before it, and with nothing written while it runs. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn)
    this.chain = run.then(() => {}, () => {})
    return run
  }

  /** Resolves once every write accepted so far has been written (or refused). */
  drain(): Promise<void> {
    return this.exclusive(async () => {})
  }

  /** Flushes what is queued, fsyncs, closes the file; every later write is refused. */
  close(): Promise<void> {
    return this.exclusive(async () => {
      clearTimeout(this.batchSyncTimer)
      const wasOpen = !this.failure
      // Latched before the sync, so a sync that fails cannot leave the log half open.
      this.failure ??= new KvUnavailableError('store closed')
      try {
        if (wasOpen) await this.fh.datasync()
      } finally {
        await this.fh.close()
      }
    })
  }

  /**
   * Switches to the file now at the log's path, `bytes` long and in `format`
   * (a compacted log renamed over the old one). Only from within `exclusive`.
   */
  async reopen(bytes: number, format: LogFormat): Promise<void> {
    await this.fh.close()
    this.fh = await open(this.opts.path, 'a+')
    this.logBytes = bytes
    this.format = format
  }

  /**
   * Refuses every write from now on. After a failed write or fsync the kernel
   * may have dropped dirty pages: we can no longer tell what is on disk, so we
   * stop rather than guess (and acknowledge writes that a restart would lose).
   */
  fail(err: Error): void {
    if (this.failure) return
    this.failure = err
    this.opts.log.error({ err, path: this.opts.path }, 'key-value log write failed; refusing further writes until restart')
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
    const writes = batch.map((q) => q.write)
    try {
      // Encoded here, not when accepted: a compaction that switches the log to another
      // format in between must not see records in the old one appended to the new file.
      await this.writeAll(this.format.encodeBatch(writes))
      if (this.opts.fsync === 'always') await this.sync(batch.length)
    } catch (err) {
      this.fail(err as Error)
      this.refuse(batch)
      return
    }
    this.opts.written(writes)
    for (const q of batch) q.resolve()
    if (this.opts.fsync === 'batch') this.scheduleBatchSync()
  }

  /** Under `batch`, writes are acknowledged once written and fsynced together at most BATCH_SYNC_MS later. */
  private scheduleBatchSync(): void {
    if (this.batchSyncTimer) return
    this.batchSyncTimer = setTimeout(() => {
      void this.exclusive(async () => {
        this.batchSyncTimer = undefined
        if (!this.failure) await this.sync(0).catch((err: Error) => this.fail(err))
      })
    }, BATCH_SYNC_MS)
  }

  private refuse(batch: Array<Queued<W>>): void {
    this.opts.refused(batch.map((q) => q.write))
    for (const q of batch) q.reject(this.unavailable())
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

  private unavailable(): Error {
    const failure = this.failure!
    return failure instanceof KvUnavailableError ? failure : new KvUnavailableError(failure.message)
  }
}
