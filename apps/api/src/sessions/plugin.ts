import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { LoginLimiter, type LoginLimits } from './login-limiter'
import { SessionStore, type Session } from './store'
import { ForbiddenError, SessionStoreUnavailableError, UnauthorizedError } from '../errors'

declare module 'fastify' {
  interface FastifyInstance {
    sessions: { store: SessionStore; limiter: LoginLimiter; alertAfterFailures: number }
    /** onRequest hook: 401 unless a valid `Authorization: Bearer <token>`; sets request.auth. */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    /** onRequest hook (after authenticate): 403 unless the `:id` in the URL is the caller's own user id. */
    requireOwner: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
  interface FastifyRequest {
    /** The caller's session, set by fastify.authenticate. */
    auth?: Session
  }
}

export interface SessionsOptions {
  redisPrefix: string
  ttlSeconds: number
  login: Omit<LoginLimits, 'prefix'>
}

/** Extracts the token of `Authorization: Bearer <token>` (scheme case-insensitive, RFC 6750). */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer +([^\s]+) *$/i.exec(header) : null
  return match?.[1]
}

/**
 * Sessions in Redis and the two hooks routes use to protect themselves. They
 * run at onRequest, before any body is read: a stranger's 10 MB upload is
 * refused without being parsed.
 */
export default fp(async function sessions(fastify, opts: SessionsOptions) {
  const store = new SessionStore(fastify.redis, { prefix: opts.redisPrefix, ttlSeconds: opts.ttlSeconds })
  const limiter = new LoginLimiter(fastify.redis, { prefix: opts.redisPrefix, ...opts.login })
  fastify.decorate('sessions', { store, limiter, alertAfterFailures: opts.login.alertAfterFailures })
  fastify.decorateRequest('auth', undefined)

  fastify.decorate('authenticate', async (request: FastifyRequest, reply: FastifyReply) => {
    const token = bearerToken(request.headers.authorization)
    if (!token) {
      void reply.header('www-authenticate', 'Bearer realm="socialnet"')
      throw new UnauthorizedError('a bearer token is required (POST /v1/sessions)')
    }
    let session: Session | undefined
    try {
      session = await store.find(token)
    } catch (err) {
      request.log.error({ err }, 'session lookup failed')
      throw new SessionStoreUnavailableError()
    }
    if (!session) {
      void reply.header('www-authenticate', 'Bearer realm="socialnet", error="invalid_token"')
      throw new UnauthorizedError('the token is invalid, expired or logged out')
    }
    request.auth = session
  })

  fastify.decorate('requireOwner', async (request: FastifyRequest) => {
    const { id } = request.params as { id?: string }
    if (!request.auth || request.auth.userId !== id?.toLowerCase()) {
      throw new ForbiddenError('only the owner of this account may do that')
    }
  })
}, { name: 'sessions', dependencies: ['redis'] })
