import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { SuppressRequestBody, SuppressionBody, SuppressionListBody } from '@socialnet/contracts'
import { ErrorBody } from '../plugins/errors'
import { MAIL_PAGE_DEFAULT, MAIL_PAGE_MAX } from './mail'
import { adminActor } from './actor'

const ListQuery = Type.Object({
  cursor: Type.Optional(Type.String({ maxLength: 254, description: 'nextCursor of the previous page (the last address it listed)' })),
  limit: Type.Integer({ minimum: 1, maximum: MAIL_PAGE_MAX, default: MAIL_PAGE_DEFAULT })
}, { additionalProperties: false })

const AddressParams = Type.Object({
  address: Type.String({ minLength: 1, maxLength: 254, description: 'the address (any letter case; kept lower-cased); not an address: 400 INVALID_ADDRESS' })
})

/**
 * `/v1/admin/suppressions`: the addresses the mailers no longer send to.
 * Who: admins (401 without a token, 403 for others). How often: the API-wide
 * rate limit. Cost: a page is at most 100 rows; a change is one row (and the
 * address's bounce history on a lift), with an audit line in the log.
 */
const suppressionRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/v1/admin/suppressions', {
    onRequest: [fastify.authenticate, fastify.requireAdmin],
    schema: {
      tags: ['admin'],
      summary: 'The suppression list in address order, a page at a time (admins)',
      security: [{ bearerAuth: [] }],
      querystring: ListQuery,
      response: { 200: SuppressionListBody, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody }
    }
  }, async (request, reply) => {
    void reply.header('cache-control', 'no-store')
    return fastify.mailDelivery.suppressions(request.query)
  })

  fastify.put('/v1/admin/suppressions/:address', {
    onRequest: [fastify.authenticate, fastify.requireAdmin],
    // The body is optional: no body reads as `{}` (fastify would validate `undefined` against the object schema).
    preValidation: async (request) => { request.body ??= {} },
    schema: {
      tags: ['admin'],
      summary: 'Stop sending to an address (admins): 201 when added, 200 when it was listed already',
      description: 'Reason `manual`, source `admin`; the optional `note` is kept as the detail. An address already on the list keeps its entry unchanged.',
      security: [{ bearerAuth: [] }],
      params: AddressParams,
      body: SuppressRequestBody,
      response: { 200: SuppressionBody, 201: SuppressionBody, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody }
    }
  }, async (request, reply) => {
    const by = await adminActor(fastify, request)
    const { suppression, created } = await fastify.mailDelivery.suppress(request.params.address, { by, source: 'admin' }, request.body.note)
    return reply.code(created ? 201 : 200).send(suppression)
  })

  fastify.delete('/v1/admin/suppressions/:address', {
    onRequest: [fastify.authenticate, fastify.requireAdmin],
    schema: {
      tags: ['admin'],
      summary: 'Lift a suppression: mail to the address goes out again, its bounce history is forgotten (admins)',
      security: [{ bearerAuth: [] }],
      params: AddressParams,
      response: { 204: { description: 'lifted' }, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody }
    }
  }, async (request, reply) => {
    await fastify.mailDelivery.lift(request.params.address, { by: await adminActor(fastify, request), source: 'admin' })
    return reply.code(204).send()
  })
}

export default suppressionRoutes
