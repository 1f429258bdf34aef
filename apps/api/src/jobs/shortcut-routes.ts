import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { isJobId } from '@socialnet/jobs'
import { ErrorBody } from '../plugins/errors'
import { BadClientTimeError, BadUuidError, NoSuchJobError } from '../errors'
import type { NewJob } from './plugin'
import { retryAfterHeader } from './rate-limiter'

/** The book's job document: `{uuid, type, extra_data}` with its type letters (A log, B callback, C mail). */
const BookJob = Type.Object({ uuid: Type.String(), type: Type.String(), extra_data: Type.Unknown() })
const BookStatus = Type.Object({ ID: Type.String(), Status: Type.String() })

// 0001-01-01 .. 9999-12-31: what an ISO-8601 timestamp (and the job_log column) can hold.
const MIN_UNIX = -62135596800
const MAX_UNIX = 253402300799

/** Parses the book's `client_time` (unix seconds) strictly; anything else is a 400, not a crash. */
export function parseClientTime(raw: string | undefined): Date {
  if (raw === undefined || !/^-?\d{1,12}$/.test(raw)) throw new BadClientTimeError()
  const seconds = Number(raw)
  if (seconds < MIN_UNIX || seconds > MAX_UNIX) throw new BadClientTimeError()
  return new Date(seconds * 1000)
}

/**
 * Hands-On RESTful Go ch. 9, kept for its readers with the same response
 * shapes, but answering only once the broker confirmed the job (503
 * otherwise) and validating input. `/job/callback?callback_url=` and
 * `/job/mail?email_address=` (the book's CallBack/Mail models) run real
 * callback/email jobs; without them, like the book's workers, the job is
 * only logged. Unlike the book, every route needs a session: a GET that a
 * web page could trigger must not send mail or store data for strangers.
 * The rules of `POST /v1/jobs` apply (own verified address, rate, quota).
 */
const jobShortcutRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRequest', fastify.authenticate)
  fastify.addHook('onError', retryAfterHeader)

  async function send(request: FastifyRequest, reply: FastifyReply, job: NewJob, letter: string, extraData: unknown) {
    const { doc } = await fastify.jobs.submit(job, { owner: request.auth!.userId })
    return reply.header('location', `/v1/jobs/${doc.id}`).send({ uuid: doc.id, type: letter, extra_data: extraData })
  }
  const responses = { 200: BookJob, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 429: ErrorBody, 503: ErrorBody }
  const security = [{ bearerAuth: [] }]

  fastify.get('/job/database', {
    schema: {
      tags: ['jobs (book)'],
      summary: 'Queue a log job stamped with the client time',
      security,
      querystring: Type.Object({ client_time: Type.Optional(Type.String({ description: 'unix seconds' })) }),
      response: responses
    }
  }, async (request, reply) => {
    const clientTime = parseClientTime(request.query.client_time).toISOString()
    return send(request, reply, { type: 'log', data: { source: '/job/database', client_time: clientTime }, clientTime }, 'A', { client_time: clientTime })
  })

  fastify.get('/job/callback', {
    schema: {
      tags: ['jobs (book)'],
      summary: 'Queue a callback job (logged only without callback_url)',
      security,
      querystring: Type.Object({ callback_url: Type.Optional(Type.String()) }),
      response: responses
    }
  }, async (request, reply) => {
    const url = request.query.callback_url
    if (url === undefined) return send(request, reply, { type: 'log', data: { source: '/job/callback' } }, 'B', '')
    return send(request, reply, { type: 'callback', callbackUrl: url }, 'B', { callback_url: url })
  })

  fastify.get('/job/mail', {
    schema: {
      tags: ['jobs (book)'],
      summary: 'Queue a mail job (logged only without email_address)',
      security,
      querystring: Type.Object({ email_address: Type.Optional(Type.String()) }),
      response: responses
    }
  }, async (request, reply) => {
    const to = request.query.email_address
    if (to === undefined) return send(request, reply, { type: 'log', data: { source: '/job/mail' } }, 'C', '')
    const job: NewJob = { type: 'email', to, subject: 'Your job', text: 'This e-mail was sent by an async job (GET /job/mail).' }
    return send(request, reply, job, 'C', { email_address: to })
  })

  fastify.get('/job/status', {
    schema: {
      tags: ['jobs (book)'],
      summary: 'The book\'s status lookup: {ID, Status} (your own jobs only; 404 for others)',
      security,
      querystring: Type.Object({ uuid: Type.Optional(Type.String()) }),
      response: { 200: BookStatus, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody }
    }
  }, async (request) => {
    const id = request.query.uuid
    if (id === undefined || !isJobId(id)) throw new BadUuidError()
    const doc = await fastify.jobs.find(id, request.auth!.userId)
    if (!doc) throw new NoSuchJobError()
    return { ID: doc.id, Status: doc.status }
  })
}

export default jobShortcutRoutes
