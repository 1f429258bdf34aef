import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorBody } from '../plugins/errors'
import { DLQ_DEFAULT_LIMIT, DLQ_MAX_LIMIT } from './dlq'
import { DLQ_BODY_MAX_BYTES } from './dlq-message'
import { adminActor } from './actor'

const QueueParams = Type.Object({
  queue: Type.String({ minLength: 1, maxLength: 100, description: 'work queue short name: mail, jobs or thumbnails (others: 404)' })
})

const MessageParams = Type.Object({
  queue: QueueParams.properties.queue,
  messageId: Type.String({ minLength: 1, maxLength: 255, description: 'the dead letter\'s AMQP messageId, as the listing shows it' })
})

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()])

/** One dead letter in `GET /v1/admin/dlq/{queue}`. */
export const DeadLetterBody = Type.Object({
  messageId: Nullable(Type.String()),
  type: Nullable(Type.String()),
  kind: Type.String({ description: 'malformed | permanent | exhausted (the consumer decided), or broker:<reason> (delivery limit, reject)' }),
  code: Nullable(Type.String({ description: 'stable failure code, e.g. SMTP_5XX, ECONNREFUSED, MALFORMED' })),
  reason: Type.String(),
  attempts: Type.Integer({ minimum: 1 }),
  firstFailedAt: Nullable(Type.String({ format: 'date-time' })),
  lastFailedAt: Nullable(Type.String({ format: 'date-time' })),
  originalQueue: Type.String(),
  redriven: Type.Union([Type.Object({ at: Type.String(), by: Type.String() }), Type.Null()], { description: 'set when the message was replayed before and failed again' }),
  bytes: Type.Integer({ minimum: 0 }),
  preview: Type.Optional(Type.String({ description: 'first 200 characters of the body (with ?preview=true)' }))
})

const ListQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: DLQ_MAX_LIMIT, default: DLQ_DEFAULT_LIMIT }),
  preview: Type.Boolean({ default: false, description: 'include the first 200 characters of each body' })
})

const ListBody = Type.Object({
  queue: Type.String(),
  dlq: Type.String({ description: 'the RabbitMQ dead-letter queue' }),
  total: Type.Integer({ minimum: 0, description: 'dead letters in the queue (messages lists the first `limit`)' }),
  messages: Type.Array(DeadLetterBody)
})

const ReplayRequestBody = Type.Object({
  messageIds: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { minItems: 1, maxItems: DLQ_MAX_LIMIT })),
  all: Type.Optional(Type.Literal(true)),
  dryRun: Type.Optional(Type.Boolean({ description: 'answer what would be replayed; move nothing' }))
}, { additionalProperties: false, description: 'exactly one of messageIds or all' })

const ReplayResultBody = Type.Object({
  queue: Type.String(),
  dryRun: Type.Boolean(),
  replayed: Type.Integer({ minimum: 0, description: 'messages sent back (with dryRun: that would be)' }),
  messageIds: Type.Array(Type.String()),
  notFound: Type.Array(Type.String(), { description: 'requested ids that are not in the dead-letter queue' }),
  remaining: Type.Integer({ minimum: 0, description: `dead letters left; all: true moves at most ${DLQ_MAX_LIMIT} per call, call again while this is not 0` })
})

const ShowBody = Type.Object({
  queue: Type.String(),
  message: DeadLetterBody,
  properties: Type.Record(Type.String(), Type.Unknown(), { description: 'AMQP properties (contentType, type, timestamp as ISO time, ...)' }),
  headers: Type.Record(Type.String(), Type.Unknown(), { description: 'AMQP headers; byte arrays as {base64, bytes}, strings cut at 2,000 characters' }),
  body: Type.Object({
    encoding: Type.Union([Type.Literal('utf8'), Type.Literal('base64')], { description: 'utf8: text (no control characters but tab and line breaks); base64: anything else' }),
    data: Type.String(),
    bytes: Type.Integer({ minimum: 0, description: 'the whole body\'s size' }),
    truncated: Type.Boolean({ description: `data holds only the first ${DLQ_BODY_MAX_BYTES} bytes` })
  })
})

const DeleteBody = Type.Object({
  queue: Type.String(),
  deleted: DeadLetterBody,
  remaining: Type.Integer({ minimum: 0, description: 'dead letters left in the queue' })
})

const PurgeBody = Type.Object({ queue: Type.String(), purged: Type.Integer({ minimum: 0 }) })

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 503: ErrorBody }

/**
 * `/v1/admin/dlq/{queue}`: read, show, replay, delete and purge a work
 * queue's dead letters. Who: admins (401 without a token, 403 for others,
 * checked before anything is parsed). How often: the API-wide rate limit.
 * Cost: a call reads or moves at most 500 messages over one AMQP channel,
 * and answers at most 64 KiB of one body.
 */
const dlqRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/v1/admin/dlq/:queue', {
    onRequest: [fastify.authenticate, fastify.requireAdmin],
    schema: {
      tags: ['admin'],
      summary: 'Dead letters of a work queue, with why they failed (admins; reading loses none)',
      security: [{ bearerAuth: [] }],
      params: QueueParams,
      querystring: ListQuery,
      response: { 200: ListBody, ...errors }
    }
  }, async (request, reply) => {
    void reply.header('cache-control', 'no-store')
    return fastify.deadLetters.list(request.params.queue, request.query)
  })

  fastify.post('/v1/admin/dlq/:queue/replay', {
    onRequest: [fastify.authenticate, fastify.requireAdmin],
    schema: {
      tags: ['admin'],
      summary: 'Send dead letters back to their work queue with a fresh attempt count (admins)',
      description: 'Each message is republished with an `x-redriven` header and removed from the dead-letter queue only after the broker confirmed the copy.',
      security: [{ bearerAuth: [] }],
      params: QueueParams,
      body: ReplayRequestBody,
      response: { 200: ReplayResultBody, ...errors }
    }
  }, async (request) => fastify.deadLetters.replay(request.params.queue, request.body, await adminActor(fastify, request)))

  fastify.get('/v1/admin/dlq/:queue/messages/:messageId', {
    onRequest: [fastify.authenticate, fastify.requireAdmin],
    schema: {
      tags: ['admin'],
      summary: 'One dead letter in full: properties, headers and body (admins; audit-logged, reading loses none)',
      description: `The body is text when it is UTF-8 without control characters, base64 otherwise, and cut at ${DLQ_BODY_MAX_BYTES} bytes. ` +
        'It may hold personal data and a verification link: every look is written to the audit log.',
      security: [{ bearerAuth: [] }],
      params: MessageParams,
      response: { 200: ShowBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 503: ErrorBody }
    }
  }, async (request, reply) => {
    void reply.header('cache-control', 'no-store')
    return fastify.deadLetters.show(request.params.queue, request.params.messageId, await adminActor(fastify, request))
  })

  fastify.delete('/v1/admin/dlq/:queue/messages/:messageId', {
    onRequest: [fastify.authenticate, fastify.requireAdmin],
    schema: {
      tags: ['admin'],
      summary: 'Delete one dead letter for good (admins; audit-logged)',
      security: [{ bearerAuth: [] }],
      params: MessageParams,
      response: { 200: DeleteBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 503: ErrorBody }
    }
  }, async (request) => fastify.deadLetters.delete(request.params.queue, request.params.messageId, await adminActor(fastify, request)))

  fastify.delete('/v1/admin/dlq/:queue', {
    onRequest: [fastify.authenticate, fastify.requireAdmin],
    schema: {
      tags: ['admin'],
      summary: 'Delete every dead letter of a work queue (admins)',
      security: [{ bearerAuth: [] }],
      params: QueueParams,
      response: { 200: PurgeBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 503: ErrorBody }
    }
  }, async (request) => fastify.deadLetters.purge(request.params.queue, await adminActor(fastify, request)))
}

export default dlqRoutes
