import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorBody } from '../plugins/errors'
import createError from '@fastify/error'
import { documentedBody } from '../plugins/external/swagger'

export const KEY_MAX_BYTES = 1024
const ALLOW = 'GET, HEAD, PUT, DELETE'

const BadKeyError = createError<[string]>('BAD_KEY', 'invalid key: %s', 400)
const NoSuchKeyError = createError<[]>('NO_SUCH_KEY', 'no such key', 404)
const MethodNotAllowedError = createError<[string]>('METHOD_NOT_ALLOWED', 'method %s not allowed on /v1/key/{key}; allowed: ' + ALLOW, 405)

const Params = Type.Object({ key: Type.String({ description: 'percent-encoded UTF-8, 1 to 1024 bytes once decoded' }) })

/**
 * Takes the key from the raw URL rather than the router's param so every key is
 * judged one way: strict percent-decoding into UTF-8 (`decodeURIComponent`
 * rejects broken escapes and invalid UTF-8), then the byte-length cap.
 */
function keyFromUrl(url: string): string {
  const raw = url.slice(url.indexOf('/v1/key/') + '/v1/key/'.length).split('?')[0]!
  let key: string
  try {
    key = decodeURIComponent(raw)
  } catch {
    throw new BadKeyError('not valid percent-encoded UTF-8')
  }
  if (key.length === 0) throw new BadKeyError('empty')
  if (Buffer.byteLength(key, 'utf8') > KEY_MAX_BYTES) throw new BadKeyError(`longer than ${KEY_MAX_BYTES} bytes`)
  return key
}

/**
 * `/v1/key/{key}`: the Cloud Native Go key-value API. Bodies are raw bytes of
 * any content type, capped at KV_MAX_VALUE_BYTES (413 beyond).
 */
const kvRoutes: FastifyPluginAsyncTypebox<{ maxValueBytes: number }> = async (fastify, opts) => {
  // Values are opaque bytes whatever Content-Type says; this scope parses nothing.
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.maxValueBytes }, (_req, body, done) => done(null, body))

  fastify.put('/v1/key/:key', {
    bodyLimit: opts.maxValueBytes,
    config: documentedBody(Type.Unsafe({ type: 'string', format: 'binary', description: 'the raw value: any bytes, with any Content-Type' })),
    schema: {
      tags: ['kv'], summary: 'Store a value (idempotent)', params: Params,
      consumes: ['application/octet-stream', 'text/plain'],
      response: { 201: { description: 'stored under the KV_FSYNC policy' }, 400: ErrorBody, 413: ErrorBody, 503: ErrorBody }
    }
  }, async (request, reply) => {
    const key = keyFromUrl(request.url)
    const value = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    await fastify.kv.put(key, value)
    return reply.code(201).send()
  })

  fastify.get('/v1/key/:key', {
    schema: {
      tags: ['kv'], summary: 'Read a value', params: Params,
      // Content per status: the value is raw bytes, errors are JSON (a route-wide `produces` would claim both are bytes).
      response: {
        200: { description: 'the raw value', content: { 'application/octet-stream': { schema: Type.Unsafe({ type: 'string', format: 'binary' }) } } },
        400: ErrorBody, 404: ErrorBody, 503: ErrorBody
      }
    }
  }, async (request, reply) => {
    const value = await fastify.kv.get(keyFromUrl(request.url))
    if (value === undefined) {
      throw new NoSuchKeyError()
    }
    return reply.type('application/octet-stream').send(value)
  })

  fastify.delete('/v1/key/:key', {
    schema: { tags: ['kv'], summary: 'Delete a key (200 also when absent)', params: Params, response: { 200: { description: 'deleted (or was absent)' }, 400: ErrorBody, 503: ErrorBody } }
  }, async (request, reply) => {
    await fastify.kv.delete(keyFromUrl(request.url))
    return reply.code(200).send()
  })

  fastify.route({
    method: ['POST', 'PATCH', 'OPTIONS', 'TRACE'],
    url: '/v1/key/:key',
    schema: { hide: true },
    handler: async (request, reply) => {
      void reply.header('Allow', ALLOW)
      throw new MethodNotAllowedError(request.method)
    }
  })
}

export default kvRoutes
