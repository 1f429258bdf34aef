import type { Pool } from 'pg'
import { PermanentError } from '@socialnet/broker'
import type { JobLogV1 } from '@socialnet/contracts'
import { FailureCode } from '../errors'

/** Postgres foreign_key_violation: the owner's account was deleted while the job waited. */
const FOREIGN_KEY_VIOLATION = '23503'

/**
 * `log` job: writes the job's data to `job_log`, owned by its submitter (the
 * row counts against their quota until the retention sweep removes it). The
 * job id is the primary key and a conflict is ignored, so a redelivered
 * message (worker crashed after the insert, before the ack) writes nothing twice.
 */
export function logJobWork(db: Pool) {
  return async (payload: JobLogV1): Promise<{ table: string }> => {
    try {
      await db.query(
        'INSERT INTO job_log (job_id, data, client_time, owner_id) VALUES ($1, $2, $3, $4) ON CONFLICT (job_id) DO NOTHING',
        [payload.jobId, payload.data, payload.clientTime ?? null, payload.ownerId ?? null]
      )
    } catch (err) {
      if ((err as { code?: string }).code === FOREIGN_KEY_VIOLATION) throw new PermanentError('the account that submitted this job no longer exists', { code: FailureCode.PERMANENT_FAILURE })
      throw err
    }
    return { table: 'job_log' }
  }
}
