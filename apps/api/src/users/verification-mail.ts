import type { PoolClient } from 'pg'
import { enqueueMessage } from '../outbox/enqueue'
import { insertVerification } from './repository'
import { newVerificationToken, verificationUrl } from './verification-tokens'

export interface VerificationMailOptions {
  /** Base of the verification link (PUBLIC_URL). */
  publicUrl: string
  /** How long the link stays valid. */
  verificationTtlSeconds: number
}

/**
 * Stores a new verification token for the user and queues the welcome mail
 * (`mail.welcome.v1`) carrying its link, on `client`, inside the caller's
 * transaction: the token and the mail commit together or not at all.
 * Registration and `POST /v1/users/me/verification` both send through here.
 * Returns the mail's messageId.
 */
export async function queueVerificationMail(
  client: PoolClient, user: { id: string; email: string; nickname: string }, opts: VerificationMailOptions
): Promise<string> {
  const { token, hash } = newVerificationToken()
  await insertVerification(client, user.id, hash, opts.verificationTtlSeconds)
  return enqueueMessage(client, 'mail.welcome.v1', {
    to: user.email, nickname: user.nickname, verificationUrl: verificationUrl(opts.publicUrl, token)
  }, { userId: user.id })
}
