import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorBody } from '../plugins/errors'

const Count = Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])
/** One work queue in `GET /v1/admin/queues`. */
export const QueueStatsBody = Type.Object({
  name: Type.String({ description: 'short name: mail, jobs, thumbnails' }),
  queue: Type.String({ description: 'the RabbitMQ queue' }),
  ready: Count,
  unacked: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'null without RABBITMQ_MANAGEMENT_URL' }),
  consumers: Count,
  dlq: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'messages in <queue>.dlq' })
})

/** Why `unacked` is null, or that it is not. */
export const UnackedSourceBody = Type.Union([Type.Literal('management_api'), Type.Literal('not_configured'), Type.Literal('unreachable')], {
  description: 'where unacked counts come from: management_api; not_configured (RABBITMQ_MANAGEMENT_URL unset: unacked is null); unreachable (set, but it did not answer)'
})

/**
 * `GET /v1/admin/queues`, admins only. One read serves every caller for about
 * a second (QueueStatsReader), so polling admins cost the broker little; the
 * API-wide rate limit bounds the rest.
 */
const queueRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/v1/admin/queues', {
    onRequest: [fastify.authenticate, fastify.requireAdmin],
    schema: {
      tags: ['admin'],
      summary: 'Work queues: ready, unacked, consumers and dead letters (admins)',
      security: [{ bearerAuth: [] }],
      response: { 200: Type.Object({ queues: Type.Array(QueueStatsBody), unackedSource: UnackedSourceBody }), 401: ErrorBody, 403: ErrorBody, 503: ErrorBody }
    }
  }, async (request, reply) => {
    void reply.header('cache-control', 'no-store')
    return await fastify.queueStats.read()
  })
}

export default queueRoutes
