import type { Pool } from 'pg'
import { addressKey } from './addresses'
import { storedText } from './stored-text'

/** What became of one attempt to deliver a mail. */
export type AttemptOutcome = 'sent' | 'deferred' | 'bounced' | 'suppressed' | 'throttled'
export const ATTEMPT_OUTCOMES: readonly AttemptOutcome[] = ['sent', 'deferred', 'bounced', 'suppressed', 'throttled']

/** One row of the delivery log. */
export interface DeliveryAttempt {
  messageId: string
  recipient: string
  userId?: string | null
  outcome: AttemptOutcome
  /** The SMTP reply code (250, 421, 550...), when there was a reply. */
  smtpCode?: number | null
  /** The reply text, a bounce's diagnostic, or why we did not send (`suppressed (hard_bounce)`). */
  smtpReply?: string | null
  /** Which mailer replica (or `bounces`) wrote it. */
  replica: string
  durationMs?: number | null
}

/** A delivery log row as read back. */
export interface LoggedAttempt extends DeliveryAttempt {
  id: string
  at: Date
}

interface AttemptRow {
  id: string
  message_id: string
  recipient: string
  user_id: string | null
  at: Date
  outcome: AttemptOutcome
  smtp_code: number | null
  smtp_reply: string | null
  replica: string
  duration_ms: number | null
}

function fromRow(r: AttemptRow): LoggedAttempt {
  return {
    id: r.id,
    messageId: r.message_id,
    recipient: r.recipient,
    userId: r.user_id,
    at: r.at,
    outcome: r.outcome,
    smtpCode: r.smtp_code,
    smtpReply: r.smtp_reply,
    replica: r.replica,
    durationMs: r.duration_ms
  }
}

const PAGE_MAX = 500

/** The delivery log (table mail_attempts): every attempt of every mail, pruned by age. */
export class DeliveryAttempts {
  constructor(private readonly pool: Pool) {}

  /** Appends attempts in one statement (the mailer group-commits the attempts of a batch). */
  async record(attempts: readonly DeliveryAttempt[]): Promise<void> {
    if (attempts.length === 0) return
    await this.pool.query(
      `INSERT INTO mail_attempts (message_id, recipient, user_id, outcome, smtp_code, smtp_reply, replica, duration_ms)
       SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::int[], $6::text[], $7::text[], $8::int[])`,
      [
        attempts.map((a) => a.messageId),
        attempts.map((a) => addressKey(a.recipient)),
        attempts.map((a) => a.userId ?? null),
        attempts.map((a) => a.outcome),
        attempts.map((a) => a.smtpCode ?? null),
        attempts.map((a) => (a.smtpReply == null ? null : storedText(a.smtpReply))),
        attempts.map((a) => a.replica),
        attempts.map((a) => (a.durationMs == null ? null : Math.round(a.durationMs)))
      ]
    )
  }

  /** Every attempt of one message, oldest first. */
  async forMessage(messageId: string): Promise<LoggedAttempt[]> {
    const { rows } = await this.pool.query<AttemptRow>('SELECT * FROM mail_attempts WHERE message_id = $1 ORDER BY id', [messageId])
    return rows.map(fromRow)
  }

  /** A page of one recipient's attempts, newest first; `cursor` is the last id of the previous page. */
  async forRecipient(address: string, options: { cursor?: string; limit?: number } = {}): Promise<{ attempts: LoggedAttempt[]; nextCursor: string | null }> {
    const limit = Math.min(Math.max(options.limit ?? 50, 1), PAGE_MAX)
    const { rows } = await this.pool.query<AttemptRow>(
      `SELECT * FROM mail_attempts WHERE recipient = $1 AND ($2::bigint IS NULL OR id < $2::bigint)
        ORDER BY id DESC LIMIT $3`,
      [addressKey(address), options.cursor ?? null, limit + 1]
    )
    const page = rows.slice(0, limit).map(fromRow)
    return { attempts: page, nextCursor: rows.length > limit ? page[page.length - 1]!.id : null }
  }

  /** Whom a message was for (from its first logged attempt), or undefined if we never tried it. */
  async recipientOf(messageId: string): Promise<{ recipient: string; userId: string | null } | undefined> {
    const { rows } = await this.pool.query<{ recipient: string; user_id: string | null }>(
      'SELECT recipient, user_id FROM mail_attempts WHERE message_id = $1 ORDER BY id LIMIT 1', [messageId]
    )
    return rows[0] && { recipient: rows[0].recipient, userId: rows[0].user_id }
  }

  /** Deletes attempts older than `olderThanMs`; returns how many. */
  async prune(olderThanMs: number): Promise<number> {
    const { rowCount } = await this.pool.query(
      'DELETE FROM mail_attempts WHERE at < now() - make_interval(secs => $1::double precision / 1000)', [olderThanMs]
    )
    return rowCount ?? 0
  }
}
