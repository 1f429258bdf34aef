import type { Pool } from 'pg'
import type { JobLogV1 } from '@socialnet/contracts'

/**
 * `log` job: writes the job's data to `job_log`. The job id is the primary
 * key and a conflict is ignored, so a redelivered message (worker crashed
 * after the insert, before the ack) writes nothing twice.
 */
export function logJobWork(db: Pool) {
  return async (payload: JobLogV1): Promise<{ table: string }> => {
    await db.query(
      'INSERT INTO job_log (job_id, data, client_time) VALUES ($1, $2, $3) ON CONFLICT (job_id) DO NOTHING',
      [payload.jobId, payload.data, payload.clientTime ?? null]
    )
    return { table: 'job_log' }
  }
}
