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

/** What a verified user keeps in job_log as last read, and what this process accepted for them since. */
interface Usage {
  stored: number
  added: number
  readAt: number
}

/**
 * Each user's kept `log` data (job_log_usage, kept exact by triggers) and
 * whether they may keep any (a verified address, or an admin). A verified
 * user's row is read at most once per `refreshMs` and shared by their
 * submissions in between, with what this process accepted for them since
 * counted on top (as JobLogTotal does for the sum): a burst of log jobs costs
 * one query, not one per job (that query was the largest item of the api's
 * CPU per submission). An unverified account is read again at every
 * submission, so a verification counts at once; only unverified accounts are
 * ever deleted, so a remembered one cannot be gone. `refreshMs` 0: every
 * submission reads.
 */
export class JobLogUsage {
  private readonly users = new Map<string, Usage>()
  private readonly reading = new Map<string, Promise<Usage>>()

  constructor(private readonly db: Pool, private readonly refreshMs: number, private readonly maxUsers = 10_000) {}

  /** `userId`'s kept bytes (stored, and accepted here since the read); 401/403 for a gone or unverified account. */
  async current(userId: string): Promise<{ stored: number; added: number }> {
    const known = this.users.get(userId)
    if (known && Date.now() - known.readAt < this.refreshMs) return known
    let read = this.reading.get(userId)
    if (!read) {
      read = this.read(userId).finally(() => this.reading.delete(userId))
      this.reading.set(userId, read)
    }
    return read
  }

  /** Counts `bytes` of a job this process just accepted for `userId`, until the next read sees its row. */
  added(userId: string, bytes: number): void {
    const known = this.users.get(userId)
    if (known) known.added += bytes
  }

  private async read(userId: string): Promise<Usage> {
    // Keeping data is for verified accounts: a throwaway address must not be a way to fill the database.
    const { rows } = await this.db.query<{ bytes: string | null; verified: boolean }>(
      `SELECT u.byte_count AS bytes, (users.email_verified_at IS NOT NULL OR users.role = 'admin') AS verified
       FROM users LEFT JOIN job_log_usage u ON u.owner_id = users.id WHERE users.id = $1`, [userId])
    const row = rows[0]
    if (!row) throw new AccountGoneError()
    if (!row.verified) throw new LogJobNeedsVerifiedEmailError()
    const usage = { stored: Number(row.bytes ?? 0), added: 0, readAt: Date.now() }
    if (this.refreshMs > 0) {
      // Re-inserted so the Map's order is oldest read first: past maxUsers the oldest goes.
      this.users.delete(userId)
      if (this.users.size >= this.maxUsers) this.users.delete(this.users.keys().next().value!)
      this.users.set(userId, usage)
    }
    return usage
  }
}

/**
 * Refuses a `log` job from an unverified account (403), or one whose data would take what the caller keeps in
 * job_log past `quotaBytes` (counted as JSON text), or past the total cap of job_log (507); resolves with the
 * job's bytes, for the caller to count once the job is accepted. What the caller
 * keeps is read at most every JOB_LOG_TOTAL_REFRESH_MS (JobLogUsage) plus what this replica accepted since;
 * jobs accepted by other replicas within that time are not counted, so a burst can pass the quota by at most
 * that much (and what the per-user job rate lets through).
 */
export async function checkLogQuota(usage: JobLogUsage, userId: string, data: unknown, quotaBytes: number, total: JobLogTotal): Promise<number> {
  const { stored, added } = await usage.current(userId)
  const bytes = Buffer.byteLength(JSON.stringify(data))
  // Accepted jobs not written yet count against the quota; the message names what job_log holds.
  if (stored + added + bytes > quotaBytes) throw new JobLogQuotaExceededError(stored, quotaBytes)
  // The whole table's cap, read from a cached sum: many accounts' quotas together must not fill the disk.
  if (await total.wouldPass(bytes)) throw new JobLogFullError(total.maxBytes)
  return bytes
}
