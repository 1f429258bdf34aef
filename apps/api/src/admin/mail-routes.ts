import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { MessageMailBody, RecipientMailBody } from '@socialnet/contracts'
import { ErrorBody } from '../plugins/errors'
import { MAIL_PAGE_DEFAULT, MAIL_PAGE_MAX } from './mail'

const RecipientQuery = Type.Object({
  to: Type.String({ minLength: 1, maxLength: 254, description: 'the recipient address (any letter case); not an address: 400 INVALID_ADDRESS' }),
  cursor: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,17}$', description: 'nextCursor of the previous page' })),
  limit: Type.Integer({ minimum: 1, maximum: MAIL_PAGE_MAX, default: MAIL_PAGE_DEFAULT })
}, { additionalProperties: false })

const MessageParams = Type.Object({
  messageId: Type.String({ minLength: 1, maxLength: 255 })
})

/**
 * `/v1/admin/mail`: the delivery log, read-only. Who: admins (401 without a
 * token, 403 for others, checked before anything is parsed). How often: the
 * API-wide rate limit. Cost: one indexed query of at most 100 rows (a
 * message's attempts are bounded by the mail queue's retry schedule).
 */
const mailRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/v1/admin/mail', {
    onRequest: [fastify.authenticate, fastify.requireAdmin],
    schema: {
      tags: ['admin'],
      summary: 'Every delivery attempt to one address, newest first, and its suppression if any (admins)',
      security: [{ bearerAuth: [] }],
      querystring: RecipientQuery,
      response: { 200: RecipientMailBody, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody }
    }
  }, async (request, reply) => {
    void reply.header('cache-control', 'no-store')
    const { to, ...page } = request.query
    return fastify.mailDelivery.forRecipient(to, page)
  })

  fastify.get('/v1/admin/mail/:messageId', {
    onRequest: [fastify.authenticate, fastify.requireAdmin],
    schema: {
      tags: ['admin'],
      summary: 'Every delivery attempt of one mail, oldest first (admins)',
      description: 'Outcome per attempt: sent, deferred (4xx, retried), bounced, suppressed (not sent) or throttled (held back by the per-domain pace). 404 NO_SUCH_MAIL when nothing is logged for the id.',
      security: [{ bearerAuth: [] }],
      params: MessageParams,
      response: { 200: MessageMailBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody }
    }
  }, async (request, reply) => {
    void reply.header('cache-control', 'no-store')
    return fastify.mailDelivery.forMessage(request.params.messageId)
  })
}

export default mailRoutes
