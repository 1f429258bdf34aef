import type { Pool } from 'pg'
import { AccountGoneError, EmailNotVerifiedError, EmailRecipientNotAllowedError, JobLogQuotaExceededError } from '../errors'

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
 * Refuses a `log` job whose data would take what the caller keeps in
 * job_log past `quotaBytes` (counted as JSON text; job_log_usage is kept by
 * triggers). Jobs accepted but not yet written are not counted, so a burst
 * can pass the quota by at most what the per-user job rate lets through.
 */
export async function checkLogQuota(db: Pool, userId: string, data: unknown, quotaBytes: number): Promise<void> {
  const { rows } = await db.query<{ bytes: string }>('SELECT byte_count AS bytes FROM job_log_usage WHERE owner_id = $1', [userId])
  const kept = Number(rows[0]?.bytes ?? 0)
  if (kept + Buffer.byteLength(JSON.stringify(data)) > quotaBytes) throw new JobLogQuotaExceededError(kept, quotaBytes)
}
