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
    requireApiKey: (scope: ApiKeyScope) => (request: FastifyRequest, reply: FastifyReply) => Promise<void>
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

  fastify.decorate('requireApiKey', (scope: ApiKeyScope) => async function requireApiKey(request: FastifyRequest, reply: FastifyReply) {
    const key = bearerToken(request.headers.authorization)
    if (!key) {
      void reply.header('www-authenticate', `Bearer realm="socialnet", scope="${scope}"`)
      throw new UnauthorizedError(`an API key is required: Authorization: Bearer <key> with scope ${scope} (npm run admin -- api-key create)`)
    }
    let found: ActiveApiKey | undefined
    if (isWellFormedApiKey(key)) {
      try {
        found = await cache.verify(key)
      } catch (err) {
        request.log.error({ err }, 'API key lookup failed')
        throw new ApiKeyStoreUnavailableError()
      }
    }
    if (!found) {
      void reply.header('www-authenticate', 'Bearer realm="socialnet", error="invalid_token"')
      throw new UnauthorizedError('the API key is unknown or revoked')
    }
    if (!scopeAllows(found.scopes, scope)) {
      void reply.header('www-authenticate', `Bearer realm="socialnet", error="insufficient_scope", scope="${scope}"`)
      throw new ForbiddenError(`this API key lacks the scope ${scope}`)
    }
    request.apiKey = found
  })
}, { name: 'api-keys', dependencies: ['db'] })
