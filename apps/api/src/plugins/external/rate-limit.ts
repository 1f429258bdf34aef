import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import { RateLimitedError } from '../../errors'

/**
 * API-wide limit per client IP, counted in Redis so it holds across replicas.
 * `rps` requests per second with a 2x burst: the window is two seconds wide.
 * Counters live under `redisPrefix`, so two deployments on one Redis do not
 * share them. A Redis outage lets requests through rather than failing them all.
 * Routes registered after this plugin are limited; a route may set its own
 * limit (`config.rateLimit`), counted separately.
 */
export default fp(async function apiRateLimit(fastify, opts: { rps: number; redisPrefix: string }) {
  if (opts.rps === 0) return
  await fastify.register(rateLimit, {
    global: true,
    max: opts.rps * 2,
    timeWindow: 2000,
    redis: fastify.redis,
    nameSpace: opts.redisPrefix,
    skipOnError: true,
    errorResponseBuilder: (_request, context) => new RateLimitedError(context.after)
  })
}, { name: 'api-rate-limit', dependencies: ['redis'] })
