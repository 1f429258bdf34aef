import type { Pool } from 'pg'
import type { JobLogTotal } from '@socialnet/jobs'
import {
  AccountGoneError, EmailNotVerifiedError, EmailRecipientNotAllowedError, JobLogFullError, JobLogQuotaExceededError,
  LogJobNeedsVerifiedEmailError
} from '../errors'

interface Sender {
  email: string
  verified: boolean
  role: string
}

/**
 * Refuses an `email` job the caller may not send: a user mails only their
 * own verified address, an admin any address. Email, verification and role
 * are read from Postgres now rather than from the session, which may predate
 * a promotion, a demotion or an address change.
 */
export async function authorizeEmailJob(db: Pool, userId: string, to: string): Promise<void> {
  const { rows } = await db.query<Sender>(
    'SELECT email, email_verified_at IS NOT NULL AS verified, role FROM users WHERE id = $1', [userId])
  const sender = rows[0]
  if (!sender) throw new AccountGoneError()
  if (sender.role === 'admin') return
  // Case-folded like the unique index on lower(email): the same mailbox however it is typed.
  if (to.toLowerCase() !== sender.email.toLowerCase()) throw new EmailRecipientNotAllowedError()
  if (!sender.verified) throw new EmailNotVerifiedError()
}

/**
 * Refuses a `log` job from an unverified account (403), or one whose data would take what the caller keeps in
 * job_log past `quotaBytes` (counted as JSON text; job_log_usage is kept by
 * triggers), or past the total cap of job_log (507). Jobs accepted but not yet written are not counted, so a burst
 * can pass the quota by at most what the per-user job rate lets through.
 */
export async function checkLogQuota(db: Pool, userId: string, data: unknown, quotaBytes: number, total: JobLogTotal): Promise<void> {
  // Keeping data is for verified accounts: a throwaway address must not be a way to fill the database.
  const { rows } = await db.query<{ bytes: string | null; verified: boolean }>(
    `SELECT u.byte_count AS bytes, (users.email_verified_at IS NOT NULL OR users.role = 'admin') AS verified
     FROM users LEFT JOIN job_log_usage u ON u.owner_id = users.id WHERE users.id = $1`, [userId])
  const row = rows[0]
  if (!row) throw new AccountGoneError()
  if (!row.verified) throw new LogJobNeedsVerifiedEmailError()
  const kept = Number(row.bytes ?? 0)
  const bytes = Buffer.byteLength(JSON.stringify(data))
  if (kept + bytes > quotaBytes) throw new JobLogQuotaExceededError(kept, quotaBytes)
  // The whole table's cap, read from a cached sum: many accounts' quotas together must not fill the disk.
  if (await total.wouldPass(bytes)) throw new JobLogFullError(total.maxBytes)
}
