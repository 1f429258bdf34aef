import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { bearerToken } from '../sessions/plugin'
import { ApiKeyStoreUnavailableError, ForbiddenError, UnauthorizedError } from '../errors'
import { ApiKeyCache } from './cache'
import { isWellFormedApiKey, scopeAllows, type ApiKeyScope } from './keys'
import { useApiKey, type ActiveApiKey } from './repository'

/** Made-up keys are not worth remembering beyond this many; a real deployment has a handful of keys. */
const CACHE_MAX_ENTRIES = 10_000

declare module 'fastify' {
  interface FastifyInstance {
    /** A preParsing hook: 401 unless `Authorization: Bearer <api key>` is a valid key, 403 unless it has `scope`. */
    requireApiKey: (scope: ApiKeyScope) => (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err?: Error | null) => void) => void
  }
  interface FastifyRequest {
    /** The caller's API key, set by fastify.requireApiKey. */
    apiKey?: ActiveApiKey
  }
}

/**
 * API keys for machine clients (minted with `npm run admin -- api-key create`).
 * Routes use the hook at preParsing: still before any body is read (a
 * stranger's 1 MiB PUT is refused unread), but after every onRequest hook,
 * so the api-wide rate limit (which @fastify/rate-limit appends to each
 * route's onRequest) counts a flood of made-up keys before they cost a
 * database lookup. Challenges follow RFC 6750 (`WWW-Authenticate: Bearer`).
 */
export default fp(async function apiKeys(fastify, opts: { cacheMs: number }) {
  const cache = new ApiKeyCache((hash) => useApiKey(fastify.db, hash), { ttlMs: opts.cacheMs, maxEntries: CACHE_MAX_ENTRIES })
  fastify.decorateRequest('apiKey', undefined)

  /** The request's key, or the error to answer: 401 without a known key, 403 without `scope`. */
  function judge(request: FastifyRequest, reply: FastifyReply, scope: ApiKeyScope, found: ActiveApiKey | undefined): Error | null {
    if (!found) {
      void reply.header('www-authenticate', 'Bearer realm="socialnet", error="invalid_token"')
      return new UnauthorizedError('the API key is unknown or revoked')
    }
    if (!scopeAllows(found.scopes, scope)) {
      void reply.header('www-authenticate', `Bearer realm="socialnet", error="insufficient_scope", scope="${scope}"`)
      return new ForbiddenError(`this API key lacks the scope ${scope}`)
    }
    request.apiKey = found
    return null
  }

  // A callback hook: a key the cache holds is judged at once, with no promise and no extra
  // turn of the microtask queue on the KV GET path; only a lookup waits.
  fastify.decorate('requireApiKey', (scope: ApiKeyScope) => function requireApiKey(request: FastifyRequest, reply: FastifyReply, _payload: unknown, done: (err?: Error | null) => void) {
    const key = bearerToken(request.headers.authorization)
    if (!key) {
      void reply.header('www-authenticate', `Bearer realm="socialnet", scope="${scope}"`)
      done(new UnauthorizedError(`an API key is required: Authorization: Bearer <key> with scope ${scope} (npm run admin -- api-key create)`))
      return
    }
    if (!isWellFormedApiKey(key)) {
      done(judge(request, reply, scope, undefined))
      return
    }
    const cached = cache.peek(key)
    if (cached) {
      done(judge(request, reply, scope, cached.key))
      return
    }
    cache.verify(key).then((found) => done(judge(request, reply, scope, found)), (err: unknown) => {
      request.log.error({ err }, 'API key lookup failed')
      done(new ApiKeyStoreUnavailableError())
    })
  })
}, { name: 'api-keys', dependencies: ['db'] })
