import fp from 'fastify-plugin'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { Type, type Static } from '@sinclair/typebox'
import type { HTTPMethods } from 'fastify'
import { MethodRoutes } from './method-routes'
import { describeValidationErrors, type ValidationIssue } from './validation-messages'
import { ErrorCode } from '../errors'

/** Codes for statuses that have no error of their own: the `error` field is always a stable string. */
export const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: ErrorCode.BAD_REQUEST,
  401: ErrorCode.UNAUTHORIZED,
  403: ErrorCode.FORBIDDEN,
  404: ErrorCode.NOT_FOUND,
  405: ErrorCode.METHOD_NOT_ALLOWED,
  406: ErrorCode.NOT_ACCEPTABLE,
  408: ErrorCode.REQUEST_TIMEOUT,
  409: ErrorCode.CONFLICT,
  413: ErrorCode.PAYLOAD_TOO_LARGE,
  414: ErrorCode.URI_TOO_LONG,
  415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  422: ErrorCode.UNPROCESSABLE_ENTITY,
  429: ErrorCode.RATE_LIMITED,
  431: ErrorCode.HEADERS_TOO_LARGE,
  500: ErrorCode.INTERNAL_ERROR,
  502: ErrorCode.BAD_GATEWAY,
  503: ErrorCode.SERVICE_UNAVAILABLE,
  504: ErrorCode.GATEWAY_TIMEOUT,
  507: ErrorCode.INSUFFICIENT_STORAGE
}

/**
 * Body-parser errors under our own codes: the client sent a body the route
 * cannot read, and the code says how (fastify's FST_ERR_CTP_* are internal names).
 */
const CODE_BY_PARSER_ERROR: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: ErrorCode.INVALID_JSON,
  FST_ERR_CTP_EMPTY_JSON_BODY: ErrorCode.INVALID_JSON,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  FST_ERR_CTP_BODY_TOO_LARGE: ErrorCode.PAYLOAD_TOO_LARGE,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ErrorCode.BAD_REQUEST
}

/**
 * Errors the HTTP parser meets before fastify sees a request (headers over
 * Node's 16 KiB, a malformed request line, a client too slow to send its
 * headers): answered in the one error shape, then the socket is closed.
 * Passed to the Fastify constructor as `clientErrorHandler`.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  // A reset or already closed socket has no one left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const [status, body]: [number, ErrorBody] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, { error: ErrorCode.HEADERS_TOO_LARGE, message: 'request headers exceed the 16 KiB limit' }]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, { error: ErrorCode.REQUEST_TIMEOUT, message: 'the request was not received in time' }]
        : [400, { error: ErrorCode.BAD_REQUEST, message: 'malformed HTTP request' }]
  const json = JSON.stringify(body)
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(json)}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${json}`)
  }
  socket.destroy(err)
}

/**
 * The one error shape: `{ error: code, message }`; every route's error responses use
 * this schema. A validation error adds `details`: one entry per bad field.
 */
export const ErrorBody = Type.Object({
  error: Type.String(),
  message: Type.String(),
  details: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() })))
})
export type ErrorBody = Static<typeof ErrorBody>

interface HttpishError extends Error {
  statusCode?: number
  code?: string
  validation?: ValidationIssue[]
  validationContext?: string
}

/**
 * A backing service (Redis, Postgres) that is unreachable right now: the
 * request may succeed if retried, so it is a 503, not a 500 (measured by the
 * redis.restart fault (bench/src/faults/redis.ts): job submissions during a Redis
 * restart answered 500 before).
 */
function isBackendUnavailable(err: HttpishError): boolean {
  if (err.statusCode !== undefined) return false
  return err.name === 'MaxRetriesPerRequestError' || // ioredis, command failed while reconnecting
    err.message === 'Connection is closed.' || // ioredis, client disconnected
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P03'].includes(err.code ?? '') // sockets; pg admin shutdown / cannot connect now
}

/**
 * The one error handler: validation -> 400 with the field at fault, our own
 * errors keep their code, framework errors get a code from their status, and
 * 5xx details are logged but never sent to the client.
 */
export default fp(async function errors(fastify) {
  fastify.setErrorHandler((err: HttpishError, request, reply) => {
    const backendDown = isBackendUnavailable(err)
    let status = err.validation ? 400 : backendDown ? 503 : (err.statusCode ?? 500)
    if (status < 400 || status > 599) status = 500
    let body: ErrorBody
    // 507 (the KV store is full) is the client's to act on, like a 413: its message is
    // meant for them, and logging each one at error level would let a full store flood the log.
    if (status >= 500 && status !== 507) {
      // Our own 5xx codes (KV_UNAVAILABLE, ...) are stable API; driver codes (ECONNREFUSED) are not.
      const ours = !backendDown && err.code !== undefined && /^[A-Z][A-Z0-9_]+$/.test(err.code) && !err.code.startsWith('FST_')
      // Our own 503s are states, not bugs (full, shutting down, a dependency away): one warning line
      // with the reason. Anything else is logged with its stack.
      if (ours && status === 503) request.log.warn({ code: err.code, reason: err.message }, 'request refused')
      else request.log.error({ err }, 'request failed')
      body = { error: ours && status !== 500 ? err.code! : CODE_BY_STATUS[status] ?? ErrorCode.INTERNAL_ERROR, message: STATUS_CODES[status] ?? 'Error' }
    } else if (err.validation) {
      const details = describeValidationErrors(err.validation, err.validationContext ?? 'request')
      body = { error: ErrorCode.VALIDATION_FAILED, message: details.map((d) => `${d.field} ${d.message}`).join('; ') || err.message, details }
    } else {
      const code = err.code && !err.code.startsWith('FST_') ? err.code : CODE_BY_PARSER_ERROR[err.code ?? ''] ?? CODE_BY_STATUS[status] ?? ErrorCode.BAD_REQUEST
      const message = err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? `content-type ${JSON.stringify(request.headers['content-type'] ?? '')} is not accepted here`
        : err.message
      body = { error: code, message }
    }
    void reply.code(status).type('application/json; charset=utf-8').send(body)
  })
  // One rule for every route: a known path with a method it does not take is 405 with `Allow`.
  const routes = new MethodRoutes(fastify.initialConfig.routerOptions ?? {})
  fastify.addHook('onRoute', (route) => routes.add(route.method as HTTPMethods | HTTPMethods[], route.url))
  fastify.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!
    const allowed = routes.allowed(path)
    if (allowed.length > 0) {
      void reply.code(405).header('allow', allowed.join(', '))
        .send({ error: ErrorCode.METHOD_NOT_ALLOWED, message: `method ${request.method} not allowed on ${path}; allowed: ${allowed.join(', ')}` })
      return
    }
    // A browser lost among the console's pages gets the console's not-found page (the console plugin decides).
    if (fastify.hasDecorator('consoleNotFound') && fastify.consoleNotFound(request, reply)) return
    void reply.code(404).send({ error: ErrorCode.NOT_FOUND, message: `Route ${request.method} ${path} not found` })
  })
}, { name: 'errors' })
