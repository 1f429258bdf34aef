/** The key-value store behind `/v1/key/{key}`: a file log or a Postgres log. */
export interface KvStore {
  /** The live value, or undefined. */
  get(key: string): Promise<Buffer | undefined>
  /** The same answer without a promise, for a store that holds its live values in memory (the file log). */
  getNow?(key: string): Buffer | undefined
  /** Resolves once the write is in the log under the configured durability policy. */
  put(key: string, value: Buffer): Promise<void>
  /** Resolves once the deletion is logged; deleting an absent key is not an error. */
  delete(key: string): Promise<void>
  /** Flushes and releases the log. Further writes fail with KV_UNAVAILABLE. */
  close(): Promise<void>
}

/** Hooks the store calls so the metrics plugin can observe it without the store knowing prom-client. */
export interface KvObserver {
  onSync?(seconds: number, records: number): void
  onCompaction?(seconds: number, bytesBefore: number, bytesAfter: number): void
}

/** The log on disk is damaged somewhere other than its final record; start-up must stop. */
export class KvLogCorruptError extends Error {
  readonly code = 'KV_LOG_CORRUPT'
  constructor(readonly path: string, readonly offset: number, reason: string) {
    super(
      `key-value log ${path} is corrupt at byte ${offset} (${reason}); refusing to start. ` +
      'Restore it from a backup, or keep the records before the damage by truncating the file to ' +
      `${offset} bytes (truncate -s ${offset} ${path}) after copying it aside.`
    )
  }
}
