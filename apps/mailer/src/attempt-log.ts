import type { DeliveryAttempt, DeliveryAttempts } from '@socialnet/sender'
import type { Logger } from 'pino'
import { Batcher } from './batcher'

// mail_attempts.user_id is a uuid column: a header holding anything else
// would fail the whole batch's INSERT, so it is left out of the row instead.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * This mailer's writer of the delivery log (mail_attempts): one row per
 * attempt, the attempts of concurrently handled mails in one INSERT. The
 * log is for operators: a row that cannot be written is logged and the
 * mail goes on, it never fails or delays a send.
 */
export class AttemptLog {
  private readonly writes = new Batcher(async (attempts: DeliveryAttempt[]) => {
    await this.attempts.record(attempts)
    return attempts.map(() => undefined)
  })

  constructor(
    private readonly attempts: DeliveryAttempts,
    /** REPLICA_ID (or the hostname), on every row. */
    private readonly replica: string,
    private readonly log: Logger
  ) {}

  /** Appends one attempt; resolves once written (or once writing failed and was logged). */
  async record(attempt: Omit<DeliveryAttempt, 'replica'>): Promise<void> {
    const userId = attempt.userId && UUID.test(attempt.userId) ? attempt.userId : null
    try {
      await this.writes.add({ ...attempt, userId, replica: this.replica })
    } catch (err) {
      this.log.warn({ err, messageId: attempt.messageId, outcome: attempt.outcome }, 'could not write the delivery log')
    }
  }
}
