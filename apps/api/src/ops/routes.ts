import { createHash, timingSafeEqual } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorBody } from '../plugins/errors'
import { MetricsUnauthorizedError } from '../errors'

const Checks = Type.Object({ status: Type.String(), checks: Type.Record(Type.String(), Type.String()) })
const Links = Type.Object({ name: Type.String(), docs: Type.String(), openapi: Type.String(), health: Type.String() })

/**
 * The per-client limit of /ready and /metrics, counted apart from the API-wide
 * one: generous for orchestrators and scrapers (a probe every second is 10 in
 * this window), yet each /ready touches Postgres, Redis and RabbitMQ and each
 * /metrics serializes every series, so a flood of them is refused.
 */
const OPS_RATE_LIMIT = { max: 100, timeWindow: 10_000 }

/** True when `header` is `Bearer <token>`; constant-time over the hashes, so timing tells nothing of the token. */
function hasBearer(header: string | undefined, token: string): boolean {
  const given = header ? /^Bearer +(\S+) *$/i.exec(header)?.[1] : undefined
  if (!given) return false
  const digest = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(given), digest(token))
}

/**
 * Probes and metrics. /health is never limited (liveness must not fail under
 * load); /ready and /metrics have their own per-client limit; /metrics needs
 * METRICS_TOKEN when one is set, and /ready shows why a check failed only with
 * it (nginx refuses both from outside either way).
 */
const opsRoutes: FastifyPluginAsyncTypebox<{ metricsToken?: string }> = async (fastify, opts) => {
  // A browser gets the web console's page (when it is built); any other client finds the way on.
  fastify.get('/', {
    onRequest: fastify.consolePage,
    schema: { tags: ['ops'], summary: 'Where to go from here: the API documentation (a browser asking for text/html gets the web console)', response: { 200: Links } }
  }, async () => ({ name: 'Social network API', docs: '/docs', openapi: '/docs/json', health: '/health' }))

  fastify.get('/health', {
    config: { rateLimit: false },
    schema: { tags: ['ops'], summary: 'Liveness: the process is up', response: { 200: Type.Object({ status: Type.Literal('ok') }) } }
  }, async () => ({ status: 'ok' as const }))

  const { metricsToken } = opts
  fastify.get('/ready', {
    config: { rateLimit: OPS_RATE_LIMIT },
    schema: {
      tags: ['ops'],
      summary: 'Readiness: Postgres, Redis and RabbitMQ reachable',
      description: 'Each check is `ok` or `failed`; the failure\'s own text (host names, addresses, driver errors) only with `Authorization: Bearer <METRICS_TOKEN>`. Internal: nginx refuses it from outside.',
      response: { 200: Checks, 429: ErrorBody, 503: Checks }
    }
  }, async (request, reply) => {
    const { ok, checks } = await fastify.readiness.check()
    // A failure's text names internal hosts, ports and versions: only an operator (the metrics
    // token) reads it here; everyone else learns which dependency failed, and the log has the rest.
    const detailed = metricsToken !== undefined && hasBearer(request.headers.authorization, metricsToken)
    const shown: Record<string, string> = {}
    for (const [name, result] of Object.entries(checks)) {
      if (result !== 'ok') request.log.warn({ check: name, reason: result }, 'readiness check failed')
      shown[name] = result === 'ok' || detailed ? result : 'failed'
    }
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'unavailable', checks: shown })
  })

  fastify.get('/metrics', {
    config: { rateLimit: OPS_RATE_LIMIT },
    onRequest: async (request, reply) => {
      if (metricsToken === undefined || hasBearer(request.headers.authorization, metricsToken)) return
      void reply.header('www-authenticate', 'Bearer realm="metrics"')
      throw new MetricsUnauthorizedError()
    },
    schema: {
      tags: ['ops'],
      summary: 'Prometheus metrics (internal; nginx refuses it from outside; bearer METRICS_TOKEN when set)',
      security: metricsToken === undefined ? [] : [{ bearerAuth: [] }],
      response: { 200: Type.String({ description: 'Prometheus text exposition format' }), 401: ErrorBody, 429: ErrorBody }
    }
  }, async (_request, reply) => {
    const { registry } = fastify.metrics
    return reply.type(registry.contentType).send(await registry.metrics())
  })
}

export default opsRoutes
