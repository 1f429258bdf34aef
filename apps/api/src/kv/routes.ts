import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { ErrorBody } from '../plugins/errors'
import { documentedBody } from '../plugins/external/swagger'
import { BadKeyError, KeyMethodNotAllowedError, NoSuchKeyError } from '../errors'

export const KEY_MAX_BYTES = 1024
const ALLOW = 'GET, HEAD, PUT, DELETE'

const Params = Type.Object({ key: Type.String({ description: 'percent-encoded UTF-8, 1 to 1024 bytes once decoded' }) })

/**
 * Takes the key from the raw URL rather than the router's param so every key is
 * judged one way: strict percent-decoding into UTF-8 (`decodeURIComponent`
 * rejects broken escapes and invalid UTF-8), then the byte-length cap.
 */
function keyFromUrl(url: string): string {
  const start = url.indexOf('/v1/key/') + '/v1/key/'.length
  const query = url.indexOf('?', start)
  const raw = query === -1 ? url.slice(start) : url.slice(start, query)
  let key = raw
  // Most keys have no escapes: skip the decoder (and its try) for them.
  if (raw.includes('%')) {
    try {
      key = decodeURIComponent(raw)
    } catch {
      throw new BadKeyError('not valid percent-encoded UTF-8')
    }
  }
  if (key.length === 0) throw new BadKeyError('empty')
  // A UTF-16 unit is at most 3 UTF-8 bytes: short keys need no count.
  if (key.length * 3 > KEY_MAX_BYTES && Buffer.byteLength(key, 'utf8') > KEY_MAX_BYTES) throw new BadKeyError(`longer than ${KEY_MAX_BYTES} bytes`)
  return key
}

/** A GET's answer: the raw value, or 404 for a key that is not there. */
function sendValue(reply: FastifyReply, value: Buffer | undefined): void {
  if (value === undefined) throw new NoSuchKeyError()
  void reply.type('application/octet-stream').send(value)
}

export interface KvRoutesOptions {
  maxValueBytes: number
  /** KV_AUTH: `token` needs an API key with kv:read (GET/HEAD) or kv:write (PUT/DELETE); `open` lets anyone in. */
  auth: 'token' | 'open'
}

/**
 * `/v1/key/{key}`: the Cloud Native Go key-value API. Who: holders of an API
 * key with the route's scope (or anyone with KV_AUTH=open). How often: the
 * api-wide rate limit. How much: KV_MAX_VALUE_BYTES per value (413) and
 * KV_MAX_TOTAL_BYTES of live data (507). Bodies are raw bytes of any type.
 */
const kvRoutes: FastifyPluginAsyncTypebox<KvRoutesOptions> = async (fastify, opts) => {
  const open = opts.auth === 'open'
  if (open) fastify.log.warn('KV_AUTH=open: anyone who reaches the api may read, overwrite and delete every key; use it for local experiments and benchmarks only')
  // Checked before the body is read, after the rate limit (see api-keys/plugin.ts); 405 stays open, it touches no data.
  const access = (scope: 'kv:read' | 'kv:write') => open
    ? {}
    : { preParsing: fastify.requireApiKey(scope) }
  const secured = open ? {} : { security: [{ apiKey: [] }] }
  const denied = open ? {} : { 401: ErrorBody, 403: ErrorBody }

  // Values are opaque bytes whatever Content-Type says; this scope parses nothing.
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.maxValueBytes }, (_req, body, done) => done(null, body))

  fastify.put('/v1/key/:key', {
    bodyLimit: opts.maxValueBytes,
    ...access('kv:write'),
    config: documentedBody(Type.Unsafe({ type: 'string', format: 'binary', description: 'the raw value: any bytes, with any Content-Type' })),
    schema: {
      tags: ['kv'],
      summary: 'Store a value (idempotent; API key scope kv:write)',
      params: Params,
      ...secured,
      consumes: ['application/octet-stream', 'text/plain'],
      response: { 201: { description: 'stored under the KV_FSYNC policy' }, 400: ErrorBody, ...denied, 413: ErrorBody, 503: ErrorBody, 507: ErrorBody }
    }
  }, async (request, reply) => {
    const key = keyFromUrl(request.url)
    const value = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    await fastify.kv.put(key, value)
    return reply.code(201).send()
  })

  fastify.get('/v1/key/:key', {
    ...access('kv:read'),
    schema: {
      tags: ['kv'],
      summary: 'Read a value (API key scope kv:read or kv:write)',
      params: Params,
      ...secured,
      // Content per status: the value is raw bytes, errors are JSON (a route-wide `produces` would claim both are bytes).
      response: {
        200: { description: 'the raw value', content: { 'application/octet-stream': { schema: Type.Unsafe({ type: 'string', format: 'binary' }) } } },
        400: ErrorBody,
        ...denied,
        404: ErrorBody,
        503: ErrorBody
      }
    }
  }, (request, reply) => {
    const key = keyFromUrl(request.url)
    // Not an async handler: a store that holds its values in memory answers without a promise
    // (fastify catches the throw of a missing key either way).
    // Returning the reply would wait on its own promise; undefined tells fastify the reply is sent.
    const store = fastify.kv
    if (store.getNow) {
      sendValue(reply, store.getNow(key))
      return
    }
    return store.get(key).then((value) => { sendValue(reply, value) })
  })

  fastify.delete('/v1/key/:key', {
    ...access('kv:write'),
    schema: {
      tags: ['kv'],
      summary: 'Delete a key (200 also when absent; API key scope kv:write)',
      params: Params,
      ...secured,
      response: { 200: { description: 'deleted (or was absent)' }, 400: ErrorBody, ...denied, 503: ErrorBody }
    }
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
      throw new KeyMethodNotAllowedError(request.method, ALLOW)
    }
  })
}

export default kvRoutes
