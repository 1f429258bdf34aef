import type { Pool } from 'pg'
import { withTransaction } from '@socialnet/db'
import { checkNewPassword } from './password-policy'
import { assertEmailAndNicknameFree, insertUser, type User } from './repository'
import type { RegisterBody } from './schemas'
import { queueVerificationMail, type VerificationMailOptions } from './verification-mail'
import type { MailDecision, WithheldReason } from './welcome-mail-budget'

export type RegistrationOptions = VerificationMailOptions

/** What a registration costs, supplied by the route: the client's sign-up budget, the hash, the mail budget. */
export interface RegistrationCosts {
  /** Charges one sign-up to the client; throws (429) when its budget is spent. */
  chargeSignup(): Promise<void>
  hash(password: string): Promise<string>
  /** Whether a welcome mail to this address may be queued now. */
  takeMail(address: string): Promise<MailDecision>
}

/** The welcome mail of a registration: queued in the outbox, or withheld by a limit (the owner may ask for it later). */
export type WelcomeMail = { status: 'queued'; messageId: string } | { status: 'withheld'; reason: WithheldReason }

/**
 * Creates the user and, unless a mail limit withholds it, its verification
 * token and welcome-mail outbox row, in one transaction: a 201 that says
 * `queued` always has exactly one welcome mail queued, and a failed
 * registration (409, crash) leaves neither a user nor a mail behind.
 *
 * Order of costs: everything that refuses cheaply (password rules, a taken
 * e-mail or nickname) runs first and is free; then the client's sign-up
 * budget is charged, so the argon2 hash (~20 MiB and tens of ms) is bounded
 * per client IP too; the hash runs before the transaction so no row lock
 * waits on it.
 */
export async function registerUser(
  pool: Pool, body: RegisterBody, opts: RegistrationOptions, costs: RegistrationCosts
): Promise<User & { welcomeMail: WelcomeMail }> {
  checkNewPassword(body.password)
  await assertEmailAndNicknameFree(pool, body.email, body.nickname)
  await costs.chargeSignup()
  const passwordHash = await costs.hash(body.password)
  const mail = await costs.takeMail(body.email)
  try {
    return await withTransaction(pool, async (client) => {
      const user = await insertUser(client, {
        email: body.email, nickname: body.nickname, passwordHash, firstName: body.firstName, lastName: body.lastName
      })
      const welcomeMail: WelcomeMail = mail.send
        ? { status: 'queued', messageId: await queueVerificationMail(client, user, opts) }
        : { status: 'withheld', reason: mail.reason }
      return { ...user, welcomeMail }
    })
  } catch (err) {
    // No account, so no mail went out: the recipient's budget is as it was. A failure to give
    // it back must not hide the error that matters.
    if (mail.send) await mail.giveBack().catch(() => {})
    throw err
  }
}
