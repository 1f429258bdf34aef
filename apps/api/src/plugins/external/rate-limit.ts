import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import createError from '@fastify/error'

const RateLimitedError = createError<[string]>('RATE_LIMITED', 'Too many requests; retry in %s', 429)

/**
 * API-wide limit per client IP, counted in Redis so it holds across replicas.
 * `rps` requests per second with a 2x burst: the window is two seconds wide.
 * A Redis outage lets requests through rather than failing them all.
 */
export default fp(async function apiRateLimit(fastify, opts: { rps: number }) {
  if (opts.rps === 0) return
  await fastify.register(rateLimit, {
    global: true,
    max: opts.rps * 2,
    timeWindow: 2000,
    redis: fastify.redis,
    nameSpace: 'socialnet:rl:api:',
    skipOnError: true,
    errorResponseBuilder: (_request, context) => new RateLimitedError(context.after)
  })
}, { name: 'api-rate-limit', dependencies: ['redis'] })
