import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorBody } from '../plugins/errors'
import { Accepted, JobIdParams, JobRequestBody, JobStatusBody } from './schemas'
import { jobsValidatorCompiler } from './body-validation'
import { NoSuchJobError } from './plugin'

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({
    minLength: 1, maxLength: 255,
    description: 'repeat the same request with the same key to get the same job back instead of a new one (kept as long as a job status)'
  }))
})

/** `/v1/jobs`: submit an async job (202 once the broker has it) and poll its status. */
const jobsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/v1/jobs', {
    validatorCompiler: jobsValidatorCompiler,
    schema: {
      tags: ['jobs'],
      summary: 'Submit a job (202 only after the message broker confirmed it)',
      headers: IdempotencyHeaders,
      body: JobRequestBody,
      response: { 202: Accepted, 400: ErrorBody, 409: ErrorBody, 413: ErrorBody, 422: ErrorBody, 503: ErrorBody }
    }
  }, async (request, reply) => {
    const { doc } = await fastify.jobs.submit(request.body, request.headers['idempotency-key'])
    return reply.code(202).header('location', `/v1/jobs/${doc.id}`).send({ id: doc.id, status: doc.status })
  })

  fastify.get('/v1/jobs/:id', {
    schema: {
      tags: ['jobs'],
      summary: 'Job status: QUEUED -> STARTED -> IN_PROGRESS -> DONE | FAILED',
      params: JobIdParams,
      response: { 200: JobStatusBody, 400: ErrorBody, 404: ErrorBody }
    }
  }, async (request) => {
    const doc = await fastify.jobs.store.get(request.params.id)
    if (!doc) throw new NoSuchJobError()
    return doc
  })
}

export default jobsRoutes
