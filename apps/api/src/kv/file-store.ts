import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import { FORMAT_V2, OP_DELETE, OP_PUT, recordSize, type LogFormat, type Op } from './record-format'
import { replayLog } from './replay'
import { KeyTable } from './key-table'
import { LogWriter, type FsyncPolicy, type LogWrite } from './log-writer'
import { Compactor } from './compactor'
import { syncDirectory } from './sync-directory'
import type { KvObserver, KvStore } from './store'
import { KvFullError } from '../errors'

export type { FsyncPolicy } from './log-writer'

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

interface StoreWrite extends LogWrite {
  /** Bytes this PUT holds in reservedBytes until it is applied or refused. */
  reserved: number
}

/** Bytes a live entry's record takes beyond its key and value in a compacted (v2) log. */
const RECORD_OVERHEAD = recordSize(0, 0)

/**
 * The key-value store as an append-only log file with an in-memory index,
 * replayed at start-up (Cloud Native Go ch. 5, with the book's gaps fixed).
 *
 * This class owns what readers see (the table) and what KV_MAX_TOTAL_BYTES
 * caps; the file itself belongs to the LogWriter (group commit, fsync policy,
 * failure latching) and is rewritten by the Compactor. A write is applied to
 * the table only once its record is in the log under the policy.
 */
export class FileKvStore implements KvStore {
  /** Key + value bytes of PUTs accepted but not yet applied; counted against the cap in full. */
  private reservedBytes = 0
  private readonly writer: LogWriter<StoreWrite>
  private readonly compactor: Compactor

  private constructor(
    private readonly opts: FileKvStoreOptions,
    fh: FileHandle,
    logBytes: number,
    format: LogFormat,
    private data: KeyTable
  ) {
    const { path, fsync, log, observer, compactMinBytes, compactRatio } = opts
    this.writer = new LogWriter<StoreWrite>(fh, logBytes, {
      path,
      format,
      fsync,
      log,
      observer,
      written: (batch) => this.written(batch),
      refused: (batch) => { for (const w of batch) this.reservedBytes -= w.reserved }
    })
    this.compactor = new Compactor({
      path,
      compactMinBytes,
      compactRatio,
      log,
      observer,
      writer: this.writer,
      table: () => this.data,
      replaceTable: (table) => { this.data = table }
    })
  }

  /** Opens (creating if missing) and replays the log. Throws KvLogCorruptError on damage. */
  static async open(opts: FileKvStoreOptions): Promise<FileKvStore> {
    const { path } = opts
    await mkdir(dirname(path), { recursive: true })
    // Left over from a compaction that a crash interrupted before its rename: the log itself is whole.
    await unlink(`${path}.compact`).catch(() => {})
    const fh = await open(path, 'a+')
    try {
      const { logBytes, format, data } = await load(fh, opts)
      return new FileKvStore(opts, fh, logBytes, format, data)
    } catch (err) {
      await fh.close().catch(() => {})
      throw err
    }
  }

  get size(): number { return this.data.size }
  /** The log's size, and what it would weigh compacted (one record per live key). */
  get bytes(): { log: number; live: number } {
    return { log: this.writer.bytes, live: this.data.liveDataBytes + RECORD_OVERHEAD * this.data.size }
  }

  /** Keys + values of live entries: what KV_MAX_TOTAL_BYTES caps. */
  get liveDataBytes(): number { return this.data.liveDataBytes }

  async get(key: string): Promise<Buffer | undefined> {
    return this.getNow(key)
  }

  getNow(key: string): Buffer | undefined {
    return this.data.get(Buffer.from(key, 'utf8'))
  }

  put(key: string, value: Buffer): Promise<void> {
    return this.append(OP_PUT, key, value)
  }

  delete(key: string): Promise<void> {
    return this.append(OP_DELETE, key, Buffer.alloc(0))
  }

  async close(): Promise<void> {
    await this.compactor.finished
    await this.writer.close()
  }

  /** Waits until every write accepted so far has been flushed (and a running compaction finished). */
  async drain(): Promise<void> {
    await this.writer.drain()
    await this.compactor.finished
  }

  /** Starts a compaction unless one is running; resolves when it finished (errors are logged). */
  compact(): Promise<void> {
    return this.compactor.compact()
  }

  private append(op: Op, key: string, value: Buffer): Promise<void> {
    const refusal = this.writer.refusal
    if (refusal) return Promise.reject(refusal)
    const keyBytes = Buffer.from(key, 'utf8')
    const reserved = op === OP_PUT ? this.reserve(keyBytes, value) : 0
    if (reserved < 0) return Promise.reject(new KvFullError(this.opts.maxLiveBytes!))
    return this.writer.append({ op, key: keyBytes, value, reserved })
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

  /** The writer's hook: `batch` is in the log, so it becomes visible now. */
  private written(batch: StoreWrite[]): void {
    this.compactor.written(batch)
    for (const w of batch) {
      // Released only now: while the batch was being written its bytes were neither live nor free.
      this.reservedBytes -= w.reserved
      if (w.op === OP_PUT) this.data.set(w.key, w.value)
      else this.data.delete(w.key)
    }
    this.compactor.maybeStart(this.bytes.live)
  }
}

/**
 * Replays the log behind `fh` (starting a new v2 one if it is empty), dropping
 * a torn final record or batch. A v1 log stays v1, appended to in v1, until
 * the next compaction rewrites it as v2 (see docs/kv.md).
 */
async function load(fh: FileHandle, { path, log }: FileKvStoreOptions): Promise<{ logBytes: number; format: LogFormat; data: KeyTable }> {
  const started = process.hrtime.bigint()
  const { size } = await fh.stat()
  if (size === 0) {
    await fh.write(FORMAT_V2.magic)
    await fh.datasync()
    await syncDirectory(path)
    return { logBytes: FORMAT_V2.magic.length, format: FORMAT_V2, data: new KeyTable() }
  }
  const result = await replayLog(fh, size, path)
  if (result.torn) {
    log.warn({ path, offset: result.torn.offset, droppedBytes: size - result.torn.offset, reason: result.torn.reason },
      `key-value log ends in a torn ${result.format.version === 1 ? 'record' : 'batch'} (crash mid-write); dropping it`)
    await fh.truncate(result.torn.offset)
    await fh.datasync()
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  log.info({ path, version: result.format.version, records: result.records, keys: result.data.size, bytes: result.validBytes, seconds },
    'key-value log replayed')
  return { logBytes: result.validBytes, format: result.format, data: result.data }
}
