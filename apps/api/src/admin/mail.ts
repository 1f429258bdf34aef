import type { Pool } from 'pg'
import { Value } from '@sinclair/typebox/value'
import { EmailAddress, type MailAttemptBody, type MessageMailBody, type RecipientMailBody, type SuppressionBody, type SuppressionListBody } from '@socialnet/contracts'
import { DeliveryAttempts, SuppressionList, addressKey, type LoggedAttempt, type Suppression } from '@socialnet/sender'
import { InvalidAddressError, NoSuchMailError, NotSuppressedError } from '../errors'
import type { AuditLog } from './dlq'

/** Default and most rows one page of the delivery log or the suppression list holds. */
export const MAIL_PAGE_DEFAULT = 50
export const MAIL_PAGE_MAX = 100

/** Who asked for a change (`user:<id> <email>`, `cli:<user>@<host>`) and where from (`admin` or `cli`, kept as the source). */
export interface Actor {
  by: string
  source: 'admin' | 'cli'
}

function attemptBody(a: LoggedAttempt): MailAttemptBody {
  return {
    messageId: a.messageId,
    at: a.at.toISOString(),
    outcome: a.outcome,
    smtpCode: a.smtpCode ?? null,
    smtpReply: a.smtpReply ?? null,
    replica: a.replica,
    durationMs: a.durationMs ?? null
  }
}

function suppressionBody(s: Suppression): SuppressionBody {
  return { ...s, firstSeenAt: s.firstSeenAt.toISOString(), lastSeenAt: s.lastSeenAt.toISOString() }
}

const pageSize = (limit: number | undefined) => Math.min(Math.max(limit ?? MAIL_PAGE_DEFAULT, 1), MAIL_PAGE_MAX)

/**
 * The delivery log and the suppression list as operators use them, for the
 * admin routes and `npm run admin -- suppression` alike: one place checks an
 * address (the mailer's own definition of one) and keys it lower-cased,
 * bounds a page at 100 rows and writes the audit line of each change.
 */
export class MailDeliveryService {
  private readonly attempts: DeliveryAttempts
  private readonly suppressionList: SuppressionList

  constructor(db: Pool, private readonly audit: AuditLog) {
    this.attempts = new DeliveryAttempts(db)
    this.suppressionList = new SuppressionList(db)
  }

  /** A page of one recipient's attempts, newest first, with the address's suppression (the usual reason nothing goes out). */
  async forRecipient(to: string, opts: { cursor?: string; limit?: number } = {}): Promise<RecipientMailBody> {
    const address = this.addressOf(to)
    const [page, suppression] = await Promise.all([
      this.attempts.forRecipient(address, { cursor: opts.cursor, limit: pageSize(opts.limit) }),
      this.suppressionList.get(address)
    ])
    return { address, suppression: suppression ? suppressionBody(suppression) : null, attempts: page.attempts.map(attemptBody), nextCursor: page.nextCursor }
  }

  /** Every attempt of one mail, oldest first; NoSuchMailError when none was logged. */
  async forMessage(messageId: string): Promise<MessageMailBody> {
    const attempts = await this.attempts.forMessage(messageId)
    if (attempts.length === 0) throw new NoSuchMailError(messageId.slice(0, 100))
    const recipient = attempts[0]!.recipient
    const suppression = await this.suppressionList.get(recipient)
    return { messageId, recipient, suppression: suppression ? suppressionBody(suppression) : null, attempts: attempts.map(attemptBody) }
  }

  /** A page of the suppression list in address order; `cursor` is the last address of the previous page. */
  async suppressions(opts: { cursor?: string; limit?: number } = {}): Promise<SuppressionListBody> {
    const page = await this.suppressionList.list({ cursor: opts.cursor, limit: pageSize(opts.limit) })
    return { suppressions: page.suppressions.map(suppressionBody), nextCursor: page.nextCursor }
  }

  /**
   * Suppresses an address by hand. An address already listed stays as it is
   * (its first reason, its count): asking twice is asking once.
   */
  async suppress(address: string, actor: Actor, note?: string): Promise<{ suppression: SuppressionBody; created: boolean }> {
    const key = this.addressOf(address)
    const listed = await this.suppressionList.get(key)
    if (listed) return { suppression: suppressionBody(listed), created: false }
    const added = await this.suppressionList.add(key, actor.source, note)
    // Two operators at once: the second insert became an update of the first.
    const created = added.count === 1
    if (created) this.audit.info({ audit: 'mail.suppress', by: actor.by, address: key }, `address suppressed by hand: ${key} by ${actor.by}`)
    return { suppression: suppressionBody(added), created }
  }

  /** Lifts a suppression (and forgets the address's bounce history); NotSuppressedError when it was not listed. */
  async lift(address: string, actor: Actor): Promise<void> {
    const key = this.addressOf(address)
    const listed = await this.suppressionList.get(key)
    if (!(await this.suppressionList.remove(key))) throw new NotSuppressedError(key)
    this.audit.info({ audit: 'mail.unsuppress', by: actor.by, address: key, reason: listed?.reason }, `suppression lifted: ${key} (${listed?.reason ?? 'gone meanwhile'}) by ${actor.by}`)
  }

  /** The address as the log and the list key it; InvalidAddressError unless the mailer would take it. */
  private addressOf(raw: string): string {
    const key = addressKey(raw)
    if (!Value.Check(EmailAddress, key)) throw new InvalidAddressError(raw.slice(0, 100))
    return key
  }
}
