import type { Pool } from 'pg'
import type { Logger } from 'pino'

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
export interface JobLogRetention {
  /** One full pass now (batch after batch until nothing is due); also what the timer runs. */
  sweepNow(): Promise<number>
  stop(): Promise<void>
}

/**
 * Runs deleteExpiredJobLogs every `intervalMs` (first run after one
 * interval), like the image sweeper; errors are logged and retried next time.
 */
export function startJobLogRetention(
  db: Pool,
  log: Logger,
  opts: { retentionDays: number; intervalMs: number; batchSize: number }
): JobLogRetention {
  let running: Promise<number> | undefined
  let stopped = false
  const sweepNow = (): Promise<number> => {
    running ??= (async () => {
      let total = 0
      try {
        for (;;) {
          const removed = await deleteExpiredJobLogs(db, opts.retentionDays, opts.batchSize)
          total += removed
          if (removed < opts.batchSize || stopped) break
        }
        if (total > 0) log.info({ removed: total, retentionDays: opts.retentionDays }, 'deleted expired job_log rows')
      } catch (err) {
        log.warn({ err }, 'job_log retention sweep failed; will retry')
      } finally {
        running = undefined
      }
      return total
    })()
    return running
  }
  const timer = setInterval(() => { void sweepNow() }, opts.intervalMs)
  timer.unref()
  return {
    sweepNow,
    async stop() {
      stopped = true
      clearInterval(timer)
      await running
    }
  }
}
