import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

const Checks = Type.Object({ status: Type.String(), checks: Type.Record(Type.String(), Type.String()) })
const Links = Type.Object({ name: Type.String(), docs: Type.String(), openapi: Type.String(), health: Type.String() })

/** Probes and metrics. Exempt from the API rate limit: orchestrators poll them constantly. */
const opsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  // Someone who opens the api's address in a browser finds the way on (the console takes over / behind nginx).
  fastify.get('/', {
    schema: { tags: ['ops'], summary: 'Where to go from here: the API documentation', response: { 200: Links } }
  }, async () => ({ name: 'Social network API', docs: '/docs', openapi: '/docs/json', health: '/health' }))

  fastify.get('/health', {
    config: { rateLimit: false },
    schema: { tags: ['ops'], summary: 'Liveness: the process is up', response: { 200: Type.Object({ status: Type.Literal('ok') }) } }
  }, async () => ({ status: 'ok' as const }))

  fastify.get('/ready', {
    config: { rateLimit: false },
    schema: { tags: ['ops'], summary: 'Readiness: Postgres, Redis and RabbitMQ reachable', response: { 200: Checks, 503: Checks } }
  }, async (_request, reply) => {
    const { ok, checks } = await fastify.readiness.check()
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'unavailable', checks })
  })

  fastify.get('/metrics', {
    config: { rateLimit: false },
    schema: { tags: ['ops'], summary: 'Prometheus metrics (internal; nginx refuses it from outside)' }
  }, async (_request, reply) => {
    const { registry } = fastify.metrics
    return reply.type(registry.contentType).send(await registry.metrics())
  })
}

export default opsRoutes
