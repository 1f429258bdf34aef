import type { Pool } from 'pg'
import { PermanentError } from '@socialnet/broker'
import type { JobLogV1 } from '@socialnet/contracts'
import type { JobLogTotal } from '@socialnet/jobs'
import { FailureCode } from '../errors'

/** Postgres foreign_key_violation: the owner's account was deleted while the job waited. */
const FOREIGN_KEY_VIOLATION = '23503'

/**
 * `log` job: writes the job's data to `job_log`, owned by its submitter (the
 * row counts against their quota until the retention sweep removes it). The
 * job id is the primary key and a conflict is ignored, so a redelivered
 * message (worker crashed after the insert, before the ack) writes nothing twice.
 * A row that would take job_log past JOB_LOG_MAX_TOTAL_BYTES is not written:
 * the job fails for good (JOB_LOG_FULL), and can be replayed from the DLQ once
 * the retention sweep has made room. The api refuses such jobs at submission
 * already; this holds the cap for jobs accepted before it filled.
 */
export function logJobWork(db: Pool, total: JobLogTotal) {
  return async (payload: JobLogV1): Promise<{ table: string }> => {
    const bytes = Buffer.byteLength(JSON.stringify(payload.data))
    if (await total.wouldPass(bytes)) {
      // A redelivery of a job whose row went in before the table filled is done, not failed.
      const { rowCount } = await db.query('SELECT 1 FROM job_log WHERE job_id = $1', [payload.jobId])
      if (!rowCount) {
        throw new PermanentError(`not stored: the job log is full (JOB_LOG_MAX_TOTAL_BYTES = ${total.maxBytes} bytes); replay the job once older entries have expired`, { code: FailureCode.JOB_LOG_FULL })
      }
      return { table: 'job_log' }
    }
    try {
      await db.query(
        'INSERT INTO job_log (job_id, data, client_time, owner_id) VALUES ($1, $2, $3, $4) ON CONFLICT (job_id) DO NOTHING',
        [payload.jobId, payload.data, payload.clientTime ?? null, payload.ownerId ?? null]
      )
    } catch (err) {
      if ((err as { code?: string }).code === FOREIGN_KEY_VIOLATION) throw new PermanentError('the account that submitted this job no longer exists', { code: FailureCode.PERMANENT_FAILURE })
      throw err
    }
    total.added(bytes)
    return { table: 'job_log' }
  }
}
