import { randomUUID } from 'node:crypto'
import type { Pool } from 'pg'
import { Batcher } from './batcher'

interface ClaimInput {
  messageId: string
  messageType: string
  recipient: string
  owner: string
}

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
  // Every mail costs a claim and a sent-mark, each a commit. The mailer
  // handles up to its prefetch at once, so both are batched (group commit):
  // one statement and one commit for all the claims (or marks) that arrive
  // while the previous one runs.
  private readonly claims = new Batcher((inputs: ClaimInput[]) => this.claimBatch(inputs))
  private readonly marks = new Batcher((inputs: { messageId: string; smtpResponse: string }[]) => this.markBatch(inputs))

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
    const state = await this.claims.add({ messageId, messageType, recipient, owner })
    return state === 'claimed' ? { state, owner } : { state }
  }

  /** Records that the SMTP server accepted the mail; from now on redeliveries are skipped. */
  async markSent(messageId: string, smtpResponse: string): Promise<void> {
    await this.marks.add({ messageId, smtpResponse: smtpResponse.slice(0, 1000) })
  }

  private async claimBatch(inputs: ClaimInput[]): Promise<Claim['state'][]> {
    // One statement cannot upsert a row twice: a message id twice in a batch
    // (a redelivery racing its original) claims once, the other copy is busy.
    const first = new Map<string, ClaimInput>()
    for (const input of inputs) if (!first.has(input.messageId)) first.set(input.messageId, input)
    // Rows locked in one order by every mailer: two overlapping batches cannot deadlock.
    const unique = [...first.values()].sort((a, b) => (a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0))
    const { rows } = await this.pool.query<{ message_id: string; state: Claim['state'] }>(
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY
           AS t(message_id, message_type, recipient, owner, n)),
       claimed AS (
         INSERT INTO mail_deliveries (message_id, message_type, recipient, claimed_by, claimed_at)
         SELECT message_id, message_type, recipient, owner, now() FROM input ORDER BY n
         ON CONFLICT (message_id) DO UPDATE
           SET claimed_by = EXCLUDED.claimed_by, claimed_at = now(), attempts = mail_deliveries.attempts + 1
           WHERE mail_deliveries.sent_at IS NULL
             AND (mail_deliveries.claimed_at IS NULL OR mail_deliveries.claimed_at < now() - make_interval(secs => $5::double precision / 1000))
         RETURNING message_id)
       SELECT i.message_id,
              CASE WHEN c.message_id IS NOT NULL THEN 'claimed' WHEN d.sent_at IS NOT NULL THEN 'sent' ELSE 'busy' END AS state
         FROM input i
         LEFT JOIN claimed c ON c.message_id = i.message_id
         LEFT JOIN mail_deliveries d ON d.message_id = i.message_id`,
      // A row another mailer inserted after this statement's snapshot is not in d: busy, as it should be.
      [unique.map((i) => i.messageId), unique.map((i) => i.messageType), unique.map((i) => i.recipient), unique.map((i) => i.owner), this.leaseMs]
    )
    const states = new Map(rows.map((r) => [r.message_id, r.state]))
    return inputs.map((input) => (first.get(input.messageId) === input ? states.get(input.messageId) ?? 'busy' : 'busy'))
  }

  private async markBatch(inputs: { messageId: string; smtpResponse: string }[]): Promise<void[]> {
    // Only a message's claim owner marks it, so two batches never touch the same row
    // (but for the crash window the class comment names); DISTINCT ON covers an id twice in one batch.
    await this.pool.query(
      `UPDATE mail_deliveries d SET sent_at = now(), smtp_response = m.smtp_response, claimed_by = NULL, claimed_at = NULL
         FROM (SELECT DISTINCT ON (message_id) * FROM unnest($1::text[], $2::text[]) AS u(message_id, smtp_response)) m
        WHERE d.message_id = m.message_id`,
      [inputs.map((i) => i.messageId), inputs.map((i) => i.smtpResponse)]
    )
    return inputs.map(() => undefined)
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
