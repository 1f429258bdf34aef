import type { Pool } from 'pg'
import { withTransaction } from '../db/transaction'
import { enqueueMessage } from '../outbox/enqueue'
import { hashPassword } from './passwords'
import { insertUser, insertVerification, type User } from './repository'
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
 * The password is hashed before the transaction so no row lock waits on argon2.
 */
export async function registerUser(pool: Pool, body: RegisterBody, opts: RegistrationOptions): Promise<User> {
  const passwordHash = await hashPassword(body.password)
  const { token, hash } = newVerificationToken()
  return withTransaction(pool, async (client) => {
    const user = await insertUser(client, {
      email: body.email, nickname: body.nickname, passwordHash, firstName: body.firstName, lastName: body.lastName
    })
    await insertVerification(client, user.id, hash, opts.verificationTtlSeconds)
    await enqueueMessage(client, 'mail.welcome.v1', {
      to: user.email, nickname: user.nickname, verificationUrl: verificationUrl(opts.publicUrl, token)
    })
    return user
  })
}
