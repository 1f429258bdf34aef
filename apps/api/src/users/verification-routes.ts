import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { withTransaction } from '@socialnet/db'
import { EmailAlreadyVerifiedError, UserNotFoundError, VerificationMailLimitedError } from '../errors'
import { ErrorBody } from '../plugins/errors'
import { findUserById } from './repository'
import { VerificationQueued } from './schemas'
import { queueVerificationMail, type VerificationMailOptions } from './verification-mail'
import type { WithheldReason } from './welcome-mail-budget'

/** Why a resend was refused, in the words of the 429's message. */
const REFUSALS: Record<WithheldReason, (limit: number) => string> = {
  mailbox_daily: (limit) => `this mailbox has had its ${limit} verification mail(s) for today`,
  domain_minute: () => 'too many mails to your mail domain this minute',
  total_minute: () => 'too many verification mails this minute'
}

/**
 * `POST /v1/users/me/verification`: the owner of an unverified account asks
 * for the verification mail again (it was lost, expired, or withheld at
 * registration). A new token goes through the same outbox as registration;
 * earlier tokens stay valid until they expire.
 */
const verificationRoutes: FastifyPluginAsyncTypebox<VerificationMailOptions> = async (fastify, opts) => {
  const { resends, welcomeMails } = fastify.registrationLimits

  fastify.post('/v1/users/me/verification', {
    onRequest: fastify.authenticate,
    schema: {
      tags: ['users'],
      summary: 'Send the verification mail again',
      description: 'Signed-in owner of an unverified account only (401 without a session, 409 once verified). ' +
        'At most VERIFICATION_RESENDS_PER_HOUR an hour per account, and within the recipient mailbox\'s ' +
        'WELCOME_MAILS_PER_MAILBOX_PER_DAY and the per-minute mail ceilings: 429 + Retry-After past any of them. ' +
        'Costs one outbox row and one mail.',
      security: [{ bearerAuth: [] }],
      response: { 202: VerificationQueued, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody, 429: ErrorBody, 503: ErrorBody }
    }
  }, async (request, reply) => {
    const user = await findUserById(fastify.db, request.auth!.userId)
    if (!user) throw new UserNotFoundError()
    if (user.emailVerifiedAt) throw new EmailAlreadyVerifiedError()
    const refuse = (message: string, retryAfter: number) => {
      void reply.header('retry-after', String(retryAfter))
      return new VerificationMailLimitedError(`${message}; retry in ${retryAfter} seconds`, retryAfter)
    }
    const wait = await resends.take(user.id)
    if (wait > 0) throw refuse(`at most ${resends.limit} verification mails an hour per account`, wait)
    const mail = await welcomeMails.take(user.email)
    if (!mail.send) throw refuse(REFUSALS[mail.reason](mail.limit), mail.retryAfterSeconds)
    let messageId: string
    try {
      messageId = await withTransaction(fastify.db, (client) => queueVerificationMail(client, user, opts))
    } catch (err) {
      await mail.giveBack().catch(() => {})
      throw err
    }
    request.log.info({ userId: user.id, mailMessageId: messageId }, 'verification mail queued again')
    return reply.code(202).header('cache-control', 'no-store').send({ verificationMail: 'queued' })
  })
}

export default verificationRoutes
