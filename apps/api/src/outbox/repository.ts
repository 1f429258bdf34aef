import type { Pool } from 'pg'

/** One claimed outbox row, as the relay publishes it. */
export interface OutboxRow {
  id: string
  messageId: string
  type: string
  routingKey: string
  payload: unknown
  createdAt: Date
  userId: string | null
}

/** Rows claimed together, and the lease they are held under until marked. */
export interface ClaimedBatch {
  rows: OutboxRow[]
  /**
   * The claim's leased_until, as Postgres wrote it (text keeps the microseconds
   * a Date would drop): marking a failure only touches rows still under it.
   */
  lease: string
}

/** A row the broker did not confirm, and why. */
export interface FailedRow {
  id: string
  error: string
}

/** A row that failed to publish waits 2^attempts seconds, at most this long, before the next try. */
const ROW_BACKOFF_MAX_SECONDS = 300
/** last_error is for people reading the table; an endless error text is not. */
const LAST_ERROR_MAX_CHARS = 1000
/** Published rows deleted per prune statement: a big backlog of old rows never means one huge DELETE. */
const PRUNE_CHUNK = 10_000

/**
 * Every statement the relay runs against the outbox table (the migrations in
 * packages/db describe the table). Each is one short autocommitted statement:
 * no transaction or row lock outlives a call, in particular none is held
 * while the broker confirms. Rows being published are protected by a lease
 * instead (see claim).
 */
export class OutboxRepository {
  constructor(private readonly pool: Pool) {}

  /**
   * Leases up to `limit` due rows, oldest first. The lease moves
   * next_attempt_at to its end, so other replicas skip the rows until then;
   * when a replica dies before marking them, they simply become due again
   * (and are published twice at worst, which consumers dedupe by messageId).
   * SKIP LOCKED only keeps two concurrent claims from waiting on each other:
   * the locks last as long as this statement.
   */
  async claim(limit: number, leaseMs: number): Promise<ClaimedBatch> {
    const { rows } = await this.pool.query<OutboxRow & { lease: string }>(
      `WITH claimed AS (
         UPDATE outbox SET next_attempt_at = now() + make_interval(secs => $2), leased_until = now() + make_interval(secs => $2)
         WHERE id IN (
           SELECT id FROM outbox WHERE published_at IS NULL AND next_attempt_at <= now()
           ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING id, message_id, type, routing_key, payload, created_at, user_id, leased_until)
       SELECT id, message_id AS "messageId", type, routing_key AS "routingKey", payload,
         created_at AS "createdAt", user_id AS "userId", leased_until::text AS lease
       FROM claimed ORDER BY id`,
      [limit, leaseMs / 1000]
    )
    // now() is the same for the whole statement, so every row got the same lease.
    return { rows: rows.map(({ lease, ...row }) => row), lease: rows[0]?.lease ?? '' }
  }

  /**
   * Marks confirmed rows published and ends their lease. A row someone already
   * marked (our lease ran out and another replica published it too) keeps its
   * first time and count.
   */
  async markPublished(ids: string[]): Promise<void> {
    if (ids.length === 0) return
    await this.pool.query(
      `UPDATE outbox SET published_at = now(), attempts = attempts + 1, last_error = NULL, leased_until = NULL
       WHERE id = ANY($1::bigint[]) AND published_at IS NULL`,
      [ids]
    )
  }

  /**
   * Records a batch's failures in one statement and puts each row on backoff,
   * ending the lease. Only rows still under `lease`: if it ran out and another
   * replica claimed the row again, that replica's outcome counts, and our
   * backoff must not cut its lease short.
   */
  async markFailed(failed: FailedRow[], lease: string): Promise<void> {
    if (failed.length === 0) return
    await this.pool.query(
      `UPDATE outbox o SET attempts = o.attempts + 1, last_error = left(f.error, $4),
         next_attempt_at = now() + make_interval(secs => least(power(2, o.attempts), $3)), leased_until = NULL
       FROM unnest($1::bigint[], $2::text[]) AS f(id, error)
       WHERE o.id = f.id AND o.published_at IS NULL AND o.leased_until = $5::timestamptz`,
      [failed.map((f) => f.id), failed.map((f) => f.error), ROW_BACKOFF_MAX_SECONDS, LAST_ERROR_MAX_CHARS, lease]
    )
  }

  /**
   * Makes rows that are backing off after a failure due now (the broker is
   * back; backoff exists for rows the broker itself refuses). Leased rows are
   * left alone: they are being published, and due again only when the lease
   * ends. An expired lease already has next_attempt_at in the past.
   */
  async resetBackoff(): Promise<void> {
    await this.pool.query(
      'UPDATE outbox SET next_attempt_at = now() WHERE published_at IS NULL AND next_attempt_at > now() AND leased_until IS NULL'
    )
  }

  /** Deletes one chunk of rows published more than `retentionMs` ago; returns how many went. */
  async prune(retentionMs: number): Promise<number> {
    const { rowCount } = await this.pool.query(
      `DELETE FROM outbox WHERE id IN (
         SELECT id FROM outbox WHERE published_at < now() - make_interval(secs => $1) LIMIT $2)`,
      [retentionMs / 1000, PRUNE_CHUNK]
    )
    return rowCount ?? 0
  }
}
