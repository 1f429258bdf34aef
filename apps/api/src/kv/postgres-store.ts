import type { Pool } from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import { KvUnavailableError, type KvStore } from './store'
import type { FsyncPolicy } from './file-store'

const OP_PUT = 1
const OP_DELETE = 2
/** Superseded rows younger than this are kept, so compaction never races an in-flight insert. */
const COMPACT_MIN_AGE = '1 minute'

export interface PostgresKvStoreOptions {
  pool: Pool
  fsync: FsyncPolicy
  log: FastifyBaseLogger
  /** How often superseded log rows are deleted; 0 disables the timer. */
  compactEveryMs: number
}

/**
 * The key-value store as a log table in Postgres (`kv_log`, created by the
 * migrations). Every replica reads the newest row for a key straight from the
 * table, so a write acknowledged by one replica is visible on all of them at
 * once. `KV_FSYNC=always` waits for the WAL flush (synchronous_commit on);
 * `batch`/`off` use synchronous_commit off, which Postgres flushes within
 * wal_writer_delay (200 ms by default): a crash may lose the last moment of
 * writes but never corrupts the log.
 */
export class PostgresKvStore implements KvStore {
  private timer: NodeJS.Timeout | undefined
  private closed = false
  private readonly insertSql: string

  constructor (private readonly opts: PostgresKvStoreOptions) {
    const relaxed = opts.fsync !== 'always'
    // One round trip either way: the CTE form lets the relaxed policy set synchronous_commit for this statement's transaction only.
    this.insertSql = relaxed
      ? "WITH s AS (SELECT set_config('synchronous_commit', 'off', true)) INSERT INTO kv_log (op, key, value) SELECT $1, $2, $3 FROM s"
      : 'INSERT INTO kv_log (op, key, value) VALUES ($1, $2, $3)'
    if (opts.compactEveryMs > 0) {
      this.timer = setInterval(() => { void this.compact().catch((err: Error) => opts.log.warn({ err }, 'kv_log compaction failed')) }, opts.compactEveryMs)
      this.timer.unref()
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    const { rows } = await this.query<{ op: number; value: Buffer | null }>(
      'SELECT op, value FROM kv_log WHERE key = $1 ORDER BY seq DESC LIMIT 1', [Buffer.from(key, 'utf8')])
    const row = rows[0]
    return row && row.op === OP_PUT ? (row.value ?? Buffer.alloc(0)) : undefined
  }

  async put(key: string, value: Buffer): Promise<void> {
    await this.query(this.insertSql, [OP_PUT, Buffer.from(key, 'utf8'), value])
  }

  async delete(key: string): Promise<void> {
    await this.query(this.insertSql, [OP_DELETE, Buffer.from(key, 'utf8'), null])
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
