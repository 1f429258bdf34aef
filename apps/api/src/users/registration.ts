import type { Pool } from 'pg'
import { withTransaction } from '@socialnet/db'
import { enqueueMessage } from '../outbox/enqueue'
import { checkNewPassword } from './password-policy'
import { assertEmailAndNicknameFree, insertUser, insertVerification, type User } from './repository'
import type { RegisterBody } from './schemas'
import { newVerificationToken, verificationUrl } from './verification-tokens'

export interface RegistrationOptions {
  /** Base of the verification link (PUBLIC_URL). */
  publicUrl: string
  /** How long the link in the welcome mail stays valid. */
  verificationTtlSeconds: number
}

/**
 * Creates the user, its verification token and the welcome-mail outbox row in
 * one transaction: a 201 always has exactly one welcome mail queued, and a
 * failed registration (409, crash) leaves neither a user nor a mail behind.
 * Everything that can refuse the request cheaply (password rules, a taken
 * e-mail or nickname) runs before `hash` (argon2, ~20 MiB and tens of ms), and
 * the hash runs before the transaction so no row lock waits on it.
 */
export async function registerUser(
  pool: Pool, body: RegisterBody, opts: RegistrationOptions, hash: (password: string) => Promise<string>
): Promise<User & { mailMessageId: string }> {
  checkNewPassword(body.password)
  await assertEmailAndNicknameFree(pool, body.email, body.nickname)
  const passwordHash = await hash(body.password)
  const { token, hash: tokenHash } = newVerificationToken()
  return withTransaction(pool, async (client) => {
    const user = await insertUser(client, {
      email: body.email, nickname: body.nickname, passwordHash, firstName: body.firstName, lastName: body.lastName
    })
    await insertVerification(client, user.id, tokenHash, opts.verificationTtlSeconds)
    const mailMessageId = await enqueueMessage(client, 'mail.welcome.v1', {
      to: user.email, nickname: user.nickname, verificationUrl: verificationUrl(opts.publicUrl, token)
    }, { userId: user.id })
    return { ...user, mailMessageId }
  })
}
