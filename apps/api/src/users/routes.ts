import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { InvalidTokenError, RegistrationRateLimitedError, UserNotFoundError } from '../errors'
import { clientNetwork } from './client-network'
import { registerUser, type RegistrationOptions } from './registration'
import { backfillNicknameSkeletons, findUserById, verifyEmail, type User } from './repository'
import { hashPassword } from './passwords'
import { Counter } from 'prom-client'
import { ErrorBody } from '../plugins/errors'
import { PublicProfile, RegisterBody, UserCreated, UserParams, Verified, VerifyQuery } from './schemas'
import { hashVerificationToken } from './verification-tokens'

/**
 * A registration body is a few hundred bytes; 16 KiB leaves room for long
 * names yet answers 413 for anything bigger before it is parsed or hashed.
 */
export const REGISTER_BODY_LIMIT = 16 * 1024

/** The public view of a user (no e-mail address: that is only for its owner). */
export function publicProfile(user: User) {
  return {
    id: user.id,
    nickname: user.nickname,
    firstName: user.firstName,
    lastName: user.lastName,
    emailVerified: user.emailVerifiedAt !== null,
    createdAt: user.createdAt.toISOString()
  }
}

/** `/v1/users`: registration, e-mail verification and public profiles. */
const usersRoutes: FastifyPluginAsyncTypebox<RegistrationOptions> = async (fastify, opts) => {
  // Each registration hash costs ~20 MiB and tens of ms of CPU: counted, so a flood shows on a dashboard.
  const hashes = new Counter({
    name: 'user_registration_password_hashes_total',
    help: 'argon2 password hashes computed for registrations (refused registrations should not add to it)',
    registers: [fastify.metrics.registry]
  })
  const hash = (password: string) => { hashes.inc(); return hashPassword(password) }

  const backfill = await backfillNicknameSkeletons(fastify.db)
  if (backfill.filled > 0) fastify.log.info({ filled: backfill.filled }, 'stored the look-alike skeleton of existing nicknames')
  if (backfill.lookAlikes.length > 0) fastify.log.warn({ nicknames: backfill.lookAlikes }, 'existing nicknames that look like others; kept as they are')

  const limits = fastify.registrationLimits
  fastify.post('/v1/users', {
    bodyLimit: REGISTER_BODY_LIMIT,
    schema: {
      tags: ['users'],
      summary: 'Register; queues the welcome mail with the verification link in the same transaction',
      description: 'Anyone may call it, REGISTER_RATE_PER_IP times an hour per client IP (429 + Retry-After past it; ' +
        'refusals for a bad body, a weak password or a taken name are not counted). The welcome mail is withheld ' +
        '(`verificationMail: "withheld"`, the account is still created) past WELCOME_MAILS_PER_MAILBOX_PER_DAY for ' +
        'the recipient mailbox or a per-minute ceiling; the owner can ask for it with POST /v1/users/me/verification.',
      body: RegisterBody,
      response: { 201: UserCreated, 400: ErrorBody, 409: ErrorBody, 413: ErrorBody, 429: ErrorBody }
    }
  }, async (request, reply) => {
    const user = await registerUser(fastify.db, request.body, opts, {
      chargeSignup: async () => {
        const retryAfter = await limits.signups.take(clientNetwork(request.ip))
        if (retryAfter === 0) return
        limits.signupRefused()
        void reply.header('retry-after', String(retryAfter))
        throw new RegistrationRateLimitedError(limits.signups.limit, retryAfter)
      },
      hash,
      takeMail: (address) => limits.welcomeMails.take(address)
    })
    const mail = user.welcomeMail
    request.log.info({ userId: user.id, verificationMail: mail.status, withheldBy: mail.status === 'withheld' ? mail.reason : undefined }, 'user registered')
    fastify.events.emit('user.registered', {
      subject: `user:${user.id}`,
      userId: user.id,
      data: { nickname: user.nickname, verificationMail: mail.status, ...(mail.status === 'queued' ? { mailMessageId: mail.messageId } : {}) }
    })
    return reply.code(201).header('location', `/v1/users/${user.id}`).send({
      id: user.id, nickname: user.nickname, email: user.email, createdAt: user.createdAt.toISOString(), verificationMail: mail.status
    })
  })

  fastify.get('/v1/users/verify', {
    schema: {
      tags: ['users'],
      summary: 'Verify the e-mail address with the token from the welcome mail (repeatable until the token expires)',
      querystring: VerifyQuery,
      response: { 200: Verified, 400: ErrorBody }
    }
  }, async (request) => {
    const user = await verifyEmail(fastify.db, hashVerificationToken(request.query.token))
    if (!user?.emailVerifiedAt) throw new InvalidTokenError()
    return { id: user.id, emailVerifiedAt: user.emailVerifiedAt.toISOString() }
  })

  fastify.get('/v1/users/:id', {
    schema: {
      tags: ['users'],
      summary: 'Public profile of a user (no e-mail address)',
      params: UserParams,
      response: { 200: PublicProfile, 400: ErrorBody, 404: ErrorBody }
    }
  }, async (request) => {
    const user = await findUserById(fastify.db, request.params.id)
    if (!user) throw new UserNotFoundError()
    return publicProfile(user)
  })
}

export default usersRoutes
