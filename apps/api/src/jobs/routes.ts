import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorBody } from '../plugins/errors'
import { Accepted, JobIdParams, JobListBody, JobListQuery, JobRequestBody, JobStatusBody } from './schemas'
import { jobsValidatorCompiler } from './body-validation'
import { NoSuchJobError } from '../errors'
import { retryAfterHeader } from './rate-limiter'

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({
    minLength: 1,
    maxLength: 255,
    description: 'repeat the same request with the same key to get the same job back instead of a new one (per user; kept as long as a job status)'
  }))
})

/**
 * `/v1/jobs`: submit an async job (202 once the broker has it) and poll its
 * status. Who: a logged-in user (401 otherwise); a job is shown to its owner
 * only. How often: JOB_RATE_PER_MINUTE per user, JOB_EMAIL_RATE_PER_HOUR for
 * mail (429 + Retry-After). Cost: a 64 KiB body; log data up to
 * JOB_LOG_QUOTA_BYTES per user; mail only to the caller's own verified
 * address (admins: anywhere).
 */
const jobsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  // Before the body is read: a stranger's request costs no parsing.
  fastify.addHook('onRequest', fastify.authenticate)
  fastify.addHook('onError', retryAfterHeader)

  fastify.post('/v1/jobs', {
    validatorCompiler: jobsValidatorCompiler,
    schema: {
      tags: ['jobs'],
      summary: 'Submit a job (202 only after the message broker confirmed it)',
      description: 'Needs a session. `email` jobs go to your own verified address only (admins: any). ' +
        '429 with Retry-After past the per-user job rate, or when your kept `log` data would pass its quota.',
      security: [{ bearerAuth: [] }],
      headers: IdempotencyHeaders,
      body: JobRequestBody,
      response: { 202: Accepted, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 409: ErrorBody, 413: ErrorBody, 422: ErrorBody, 429: ErrorBody, 503: ErrorBody }
    }
  }, async (request, reply) => {
    const { doc } = await fastify.jobs.submit(request.body, { owner: request.auth!.userId, idempotencyKey: request.headers['idempotency-key'] })
    return reply.code(202).header('location', `/v1/jobs/${doc.id}`).send({ id: doc.id, status: doc.status })
  })

  fastify.get('/v1/jobs', {
    schema: {
      tags: ['jobs'],
      summary: 'Your jobs, newest first, a page at a time (those whose status is still kept: JOB_STATUS_TTL_SECONDS after their last change)',
      description: 'Pass `nextCursor` back as `cursor` for the next, older page. The list holds your newest 1,000 jobs, for a day after the newest. ' +
        'Costs one sorted-set read and one pipelined read of at most `limit` statuses (more only to skip expired ones); the per-IP rate limit applies.',
      security: [{ bearerAuth: [] }],
      querystring: JobListQuery,
      response: { 200: JobListBody, 400: ErrorBody, 401: ErrorBody }
    }
  }, async (request, reply) => {
    void reply.header('cache-control', 'no-store')
    const { cursor, limit } = request.query
    return fastify.jobs.list(request.auth!.userId, { cursor: cursor || undefined, limit })
  })

  fastify.get('/v1/jobs/:id', {
    schema: {
      tags: ['jobs'],
      summary: 'Job status: QUEUED -> STARTED -> IN_PROGRESS -> DONE | FAILED, or CANCELLED (your own jobs only; 404 for others)',
      security: [{ bearerAuth: [] }],
      params: JobIdParams,
      response: { 200: JobStatusBody, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody }
    }
  }, async (request) => {
    const doc = await fastify.jobs.find(request.params.id, request.auth!.userId)
    if (!doc) throw new NoSuchJobError()
    return doc
  })

  fastify.delete('/v1/jobs/:id', {
    schema: {
      tags: ['jobs'],
      summary: 'Cancel a job that has not finished: status CANCELLED; a callback in flight is aborted (your own jobs only; 404 for others)',
      description: 'QUEUED, STARTED or IN_PROGRESS -> CANCELLED (200 with the status). A finished job (DONE, FAILED, CANCELLED) is a 409. ' +
        'Costs one Redis round trip; the per-IP rate limit applies.',
      security: [{ bearerAuth: [] }],
      params: JobIdParams,
      response: { 200: JobStatusBody, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody }
    }
  }, async (request) => {
    const doc = await fastify.jobs.cancel(request.params.id, request.auth!.userId)
    if (!doc) throw new NoSuchJobError()
    return doc
  })
}

export default jobsRoutes
