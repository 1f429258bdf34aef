import { randomUUID } from 'node:crypto'
import type { Pool } from 'pg'

/** Outcome of claiming a message: send it, it was already sent, or another mailer is sending it. */
export type Claim = { state: 'claimed'; owner: string } | { state: 'sent' } | { state: 'busy' }

/**
 * The durable dedupe record (table mail_deliveries), keyed by messageId.
 *
 * Before sending, a mailer claims the message with a lease; after the SMTP
 * server accepted, it marks it sent. A redelivered message whose record says
 * sent is acked without a second mail. The only window left for a duplicate
 * is a crash (not SIGTERM, not a broker or connection loss) between the SMTP
 * server taking the message (after the final ".") and the sent-mark commit:
 * the 250 reply on its way back plus one Postgres commit, a few ms. SMTP
 * itself cannot close it (RFC 1047). A send cannot outlive its lease: the
 * lease is twice the send timeout and the send is aborted at the timeout.
 */
export class DeliveryLog {
  constructor(
    private readonly pool: Pool,
    /** How long a claim stays live; a claim older than this belongs to a mailer presumed dead. */
    readonly leaseMs: number
  ) {}

  /** Takes the message for sending unless it is sent or someone holds a live claim on it. */
  async claim(messageId: string, messageType: string, recipient: string): Promise<Claim> {
    // Each handling gets its own owner id: even the same process can hold a
    // message twice (a delivery redelivered on a new channel while the old
    // handler still runs), and those two must not both send.
    const owner = randomUUID()
    const { rows } = await this.pool.query<{ state: 'claimed' | 'sent' | 'busy' }>(
      `WITH claimed AS (
         INSERT INTO mail_deliveries (message_id, message_type, recipient, claimed_by, claimed_at)
         VALUES ($1, $2, $3, $4, now())
         ON CONFLICT (message_id) DO UPDATE
           SET claimed_by = EXCLUDED.claimed_by, claimed_at = now(), attempts = mail_deliveries.attempts + 1
           WHERE mail_deliveries.sent_at IS NULL
             AND (mail_deliveries.claimed_at IS NULL OR mail_deliveries.claimed_at < now() - make_interval(secs => $5::double precision / 1000))
         RETURNING 'claimed'::text AS state)
       SELECT state FROM claimed
       UNION ALL
       SELECT CASE WHEN sent_at IS NULL THEN 'busy' ELSE 'sent' END FROM mail_deliveries
        WHERE message_id = $1 AND NOT EXISTS (SELECT 1 FROM claimed)`,
      [messageId, messageType, recipient, owner, this.leaseMs]
    )
    // No row: a concurrent claim committed after this statement's snapshot; treat it as busy.
    const state = rows[0]?.state ?? 'busy'
    return state === 'claimed' ? { state, owner } : { state }
  }

  /** Records that the SMTP server accepted the mail; from now on redeliveries are skipped. */
  async markSent(messageId: string, smtpResponse: string): Promise<void> {
    await this.pool.query(
      'UPDATE mail_deliveries SET sent_at = now(), smtp_response = $2, claimed_by = NULL, claimed_at = NULL WHERE message_id = $1',
      [messageId, smtpResponse.slice(0, 1000)]
    )
  }

  /** Gives a claim back after a failed send, so the retry (on any mailer) may claim it at once. */
  async release(messageId: string, owner: string): Promise<void> {
    await this.pool.query(
      'UPDATE mail_deliveries SET claimed_by = NULL, claimed_at = NULL WHERE message_id = $1 AND claimed_by = $2 AND sent_at IS NULL',
      [messageId, owner]
    )
  }

  /** Deletes records of mails sent before `olderThanMs` ago; returns how many. Redeliveries never come that late. */
  async prune(olderThanMs: number): Promise<number> {
    const { rowCount } = await this.pool.query(
      'DELETE FROM mail_deliveries WHERE sent_at < now() - make_interval(secs => $1::double precision / 1000)',
      [olderThanMs]
    )
    return rowCount ?? 0
  }
}
