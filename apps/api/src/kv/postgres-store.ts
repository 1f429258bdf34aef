import type { Pool } from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import type { KvStore } from './store'
import { KvFullError, KvUnavailableError } from '../errors'
import type { FsyncPolicy } from './file-store'

const OP_PUT = 1
const OP_DELETE = 2
/** Superseded rows younger than this are kept, so compaction never races an in-flight insert. */
const COMPACT_MIN_AGE = '1 minute'
/** How often the live-data total is recounted from the table (catching other replicas' writes). */
const RECOUNT_EVERY_MS = 10_000
/** Key + value bytes of the newest row for key $2 when it is a PUT, else 0: what writing $2 frees. */
const PREVIOUS_BYTES = `SELECT coalesce((SELECT CASE WHEN op = ${OP_PUT} THEN octet_length(key) + coalesce(octet_length(value), 0) ELSE 0 END
  FROM kv_log WHERE key = $2 ORDER BY seq DESC LIMIT 1), 0)::int8 AS bytes`

export interface PostgresKvStoreOptions {
  pool: Pool
  fsync: FsyncPolicy
  log: FastifyBaseLogger
  /** How often superseded log rows are deleted; 0 disables the timer. */
  compactEveryMs: number
  /** Cap on live keys + values (KV_MAX_TOTAL_BYTES); a PUT past it fails with KvFullError. */
  maxLiveBytes: number
}

/**
 * The key-value store as a log table in Postgres (`kv_log`, created by the
 * migrations). Every replica reads the newest row for a key straight from the
 * table, so a write acknowledged by one replica is visible on all of them at
 * once. `KV_FSYNC=always` waits for the WAL flush (synchronous_commit on);
 * `batch`/`off` use synchronous_commit off, which Postgres flushes within
 * wal_writer_delay (200 ms by default): a crash may lose the last moment of
 * writes but never corrupts the log.
 *
 * The cap on live data is kept without a shared counter row (which would make
 * every write across all replicas wait for the previous commit): each write
 * reports the bytes it replaced in the same statement, the replica keeps the
 * running total, and recounts it from the table every RECOUNT_EVERY_MS and at
 * start. A single replica enforces the cap exactly; with several, the total can
 * pass it by what the others wrote since the last recount.
 */
export class PostgresKvStore implements KvStore {
  private timer: NodeJS.Timeout | undefined
  private recountTimer: NodeJS.Timeout | undefined
  private closed = false
  private readonly putSql: string
  private readonly deleteSql: string
  private liveBytes = 0
  /** Key + value bytes of PUTs in flight, counted against the cap in full until they report back. */
  private reservedBytes = 0

  constructor(private readonly opts: PostgresKvStoreOptions) {
    const relaxed = opts.fsync !== 'always'
    // One round trip per write: the CTE reads what the key held, inserts only if the cap allows
    // ($4 = live + reserved bytes including this value, $5 = the cap), and, under the relaxed
    // policy, sets synchronous_commit for this statement's transaction only.
    const commit = relaxed ? "(SELECT set_config('synchronous_commit', 'off', true))" : '(SELECT 1)'
    this.putSql = `WITH s AS ${commit}, prev AS (${PREVIOUS_BYTES}),
      ins AS (INSERT INTO kv_log (op, key, value) SELECT $1, $2, $3 FROM prev, s WHERE $4::int8 - prev.bytes <= $5::int8 RETURNING 1)
      SELECT prev.bytes, EXISTS (SELECT 1 FROM ins) AS stored FROM prev`
    this.deleteSql = `WITH s AS ${commit}, prev AS (${PREVIOUS_BYTES}),
      ins AS (INSERT INTO kv_log (op, key, value) SELECT $1, $2, NULL FROM s RETURNING 1)
      SELECT prev.bytes, EXISTS (SELECT 1 FROM ins) AS stored FROM prev`
    if (opts.compactEveryMs > 0) {
      this.timer = setInterval(() => { void this.compact().catch((err: Error) => opts.log.warn({ err }, 'kv_log compaction failed')) }, opts.compactEveryMs)
      this.timer.unref()
    }
  }

  /** A store with its live-data total counted from the table. */
  static async open(opts: PostgresKvStoreOptions): Promise<PostgresKvStore> {
    const store = new PostgresKvStore(opts)
    await store.recount()
    store.recountTimer = setInterval(() => {
      void store.recount().catch((err: Error) => opts.log.warn({ err }, 'kv_log live-data recount failed'))
    }, RECOUNT_EVERY_MS)
    store.recountTimer.unref()
    return store
  }

  /** Keys + values of live entries as this replica last knew them: what KV_MAX_TOTAL_BYTES caps. */
  get liveDataBytes(): number { return this.liveBytes }

  /** Recounts the live data from the table (a scan of the newest row per key). */
  async recount(): Promise<void> {
    const { rows } = await this.query<{ bytes: string }>(
      `SELECT coalesce(sum(octet_length(key) + coalesce(octet_length(value), 0)), 0)::int8 AS bytes
         FROM (SELECT DISTINCT ON (key) op, key, value FROM kv_log ORDER BY key, seq DESC) newest WHERE op = ${OP_PUT}`)
    this.liveBytes = Number(rows[0]!.bytes)
  }

  async get(key: string): Promise<Buffer | undefined> {
    const { rows } = await this.query<{ op: number; value: Buffer | null }>(
      'SELECT op, value FROM kv_log WHERE key = $1 ORDER BY seq DESC LIMIT 1', [Buffer.from(key, 'utf8')])
    const row = rows[0]
    return row && row.op === OP_PUT ? (row.value ?? Buffer.alloc(0)) : undefined
  }

  async put(key: string, value: Buffer): Promise<void> {
    const keyBytes = Buffer.from(key, 'utf8')
    const size = keyBytes.length + value.length
    this.reservedBytes += size
    let result: { bytes: string; stored: boolean }
    try {
      const { rows } = await this.query<{ bytes: string; stored: boolean }>(this.putSql,
        [OP_PUT, keyBytes, value, this.liveBytes + this.reservedBytes, this.opts.maxLiveBytes])
      result = rows[0]!
    } finally {
      this.reservedBytes -= size
    }
    if (!result.stored) throw new KvFullError(this.opts.maxLiveBytes)
    this.liveBytes += size - Number(result.bytes)
  }

  async delete(key: string): Promise<void> {
    const { rows } = await this.query<{ bytes: string }>(this.deleteSql, [OP_DELETE, Buffer.from(key, 'utf8')])
    // Two deletes of one key racing can both report its bytes; the next recount corrects that.
    this.liveBytes = Math.max(0, this.liveBytes - Number(rows[0]!.bytes))
  }

  /** Deletes rows superseded by a newer row for the same key, and old tombstones. Returns rows removed. */
  async compact(): Promise<number> {
    const superseded = await this.query(
      `DELETE FROM kv_log l USING kv_log newer
        WHERE newer.key = l.key AND newer.seq > l.seq AND newer.created_at < now() - interval '${COMPACT_MIN_AGE}'`)
    const tombstones = await this.query(
      `DELETE FROM kv_log l WHERE l.op = ${OP_DELETE} AND l.created_at < now() - interval '${COMPACT_MIN_AGE}'
        AND NOT EXISTS (SELECT 1 FROM kv_log o WHERE o.key = l.key AND o.seq < l.seq)`)
    return (superseded.rowCount ?? 0) + (tombstones.rowCount ?? 0)
  }

  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    clearInterval(this.recountTimer)
  }

  private async query<R extends object = object>(sql: string, params: unknown[] = []) {
    if (this.closed) throw new KvUnavailableError('store closed')
    try {
      return await this.opts.pool.query<R & import('pg').QueryResultRow>(sql, params)
    } catch (err) {
      // A lost database is the client's 503, not a 500 with driver details.
      throw new KvUnavailableError((err as Error).message)
    }
  }
}
