import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorBody } from '../plugins/errors'
import { randomBytes } from 'node:crypto'
import { findUserByLogin, type User } from '../users/repository'
import { hashPassword, verifyPassword } from '../users/passwords'
import { NO_CONTROL_CHARS } from '../users/schemas'
import { LoginRateLimitedError, UnauthorizedError } from '../errors'
import type { LoginSubject } from './login-limiter'
import { queueLoginAlert } from './login-alert'

const LoginBody = Type.Object({
  // No e-mail address or nickname has control characters, and a NUL would fail the lookup with a 500.
  login: Type.String({ minLength: 1, maxLength: 254, pattern: NO_CONTROL_CHARS, description: 'e-mail address or nickname' }),
  password: Type.String({ minLength: 1, maxLength: 128 })
}, { additionalProperties: false })
const SessionCreated = Type.Object({
  token: Type.String({ description: 'send as `Authorization: Bearer <token>`' }),
  expiresAt: Type.String({ format: 'date-time' }),
  userId: Type.String({ format: 'uuid' })
})

/** `/v1/sessions`: log in (a bearer token) and log out. */
const sessionsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { store, limiter } = fastify.sessions
  // An unknown login is checked against this hash so it costs one argon2
  // verification like a known one: response time does not say whether an
  // account exists.
  const dummyHash = await hashPassword(randomBytes(16).toString('hex'))

  /** Counts a wrong password against the account's day and mails its owner once it reaches the alert level. */
  const alertOwnerIfMany = async (user: User): Promise<void> => {
    try {
      if (await limiter.failed(user.id) && user.emailVerifiedAt) {
        await queueLoginAlert(fastify.db, user, fastify.sessions.alertAfterFailures)
        fastify.log.info({ userId: user.id }, 'login alert queued: many failed logins today')
      }
    } catch (err) {
      // The 401 matters more than the notice: a failed notice is logged, never a 500.
      fastify.log.error({ err, userId: user.id }, 'could not queue the login alert')
    }
  }

  fastify.post('/v1/sessions', {
    bodyLimit: 4096,
    schema: {
      tags: ['sessions'],
      summary: 'Log in with e-mail or nickname and password',
      body: LoginBody,
      response: { 201: SessionCreated, 400: ErrorBody, 401: ErrorBody, 413: ErrorBody, 429: ErrorBody }
    }
  }, async (request, reply) => {
    const { login, password } = request.body
    // Look the account up first and count failures against it, not against the
    // login as typed: otherwise each spelling of one account (e-mail, nickname,
    // other case) would get a counter of its own.
    const user = await findUserByLogin(fastify.db, login)
    const subject: LoginSubject = user ? { userId: user.id } : { unknownLogin: login }
    const waitSeconds = await limiter.attempt(subject, request.ip)
    if (waitSeconds > 0) {
      void reply.header('retry-after', String(waitSeconds))
      throw new LoginRateLimitedError(waitSeconds)
    }
    const matches = await verifyPassword(user?.passwordHash ?? dummyHash, password)
    if (user && !matches) await alertOwnerIfMany(user)
    if (!user || !matches) throw new UnauthorizedError('wrong login or password')
    await limiter.succeeded(subject, request.ip)
    const { token, expiresAt } = await store.create(user.id)
    request.log.info({ userId: user.id }, 'session created')
    return reply.code(201).header('cache-control', 'no-store').send({ token, expiresAt: expiresAt.toISOString(), userId: user.id })
  })

  fastify.delete('/v1/sessions/current', {
    onRequest: fastify.authenticate,
    schema: {
      tags: ['sessions'],
      summary: 'Log out: the token stops working at once, on every replica',
      security: [{ bearerAuth: [] }],
      response: { 204: { description: 'logged out' }, 401: ErrorBody, 503: ErrorBody }
    }
  }, async (request, reply) => {
    await store.revoke(request.auth!)
    return reply.code(204).send()
  })
}

export default sessionsRoutes
