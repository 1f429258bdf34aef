import type { Pool } from 'pg'
import type { Logger } from 'pino'
import { startPeriodicSweep, type PeriodicSweep } from '../sweeps/periodic-sweep'

/**
 * Deletes up to `batchSize` job_log rows older than `retentionDays`, oldest
 * first; returns how many went. Small batches keep each delete's locks and
 * WAL short; SKIP LOCKED lets several workers sweep side by side. The
 * job_log_usage triggers give the owners their quota back in the same statement.
 */
export async function deleteExpiredJobLogs(db: Pool, retentionDays: number, batchSize: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM job_log WHERE job_id IN (
       SELECT job_id FROM job_log
       WHERE created_at < now() - make_interval(days => $1)
       ORDER BY created_at
       LIMIT $2
       FOR UPDATE SKIP LOCKED)`,
    [retentionDays, batchSize]
  )
  return rowCount ?? 0
}

/** A running retention sweep: `stop()` cancels the timer and waits for a sweep in progress. */
export type JobLogRetention = PeriodicSweep

/** Runs deleteExpiredJobLogs every `intervalMs` (first run after one interval), like the image sweeper. */
export function startJobLogRetention(
  db: Pool,
  log: Logger,
  opts: { retentionDays: number; intervalMs: number; batchSize: number }
): JobLogRetention {
  return startPeriodicSweep({
    sweepBatch: () => deleteExpiredJobLogs(db, opts.retentionDays, opts.batchSize),
    batchSize: opts.batchSize,
    intervalMs: opts.intervalMs,
    log,
    done: { msg: 'deleted expired job_log rows', fields: { retentionDays: opts.retentionDays } },
    failed: 'job_log retention sweep failed; will retry'
  })
}
