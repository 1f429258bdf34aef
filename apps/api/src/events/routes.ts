import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { isTerminalStatus, jobStatusEvent, jobStepRank } from '@socialnet/jobs'
import { ErrorBody } from '../plugins/errors'
import { JobIdParams } from '../jobs/schemas'
import { BadLastEventIdError, EventsOffError, NoSuchJobError } from '../errors'
import { pipeEvents } from './pipe'

const ResumeHeaders = Type.Object({
  'last-event-id': Type.Optional(Type.String({
    pattern: '^[0-9]{1,20}-[0-9]{1,20}$',
    description: 'id of the last event received: every matching event after it (up to 10 minutes back) comes first, then the live stream'
  }))
})

const UINT64_MAX = 18446744073709551615n

/**
 * True when `id` is a stream id Redis accepts: two unsigned 64-bit integers. The
 * schema's pattern checks the shape; a bigger number would pass it, open the
 * stream, and then make Redis refuse the read, closing the stream at once.
 */
export function isStreamId(id: string): boolean {
  const match = /^([0-9]{1,20})-([0-9]{1,20})$/.exec(id)
  return match !== null && BigInt(match[1]!) <= UINT64_MAX && BigInt(match[2]!) <= UINT64_MAX
}

// The 200 is keyed by its media type, so OpenAPI shows text/event-stream for it and JSON for the errors.
const SseBody = {
  description: 'an event stream: `id:`, `event:` (the type) and `data:` (the event as JSON) per event; `: ping` every 15 s',
  content: { 'text/event-stream': { schema: Type.String() } }
}
const STREAM_DESCRIPTION = 'Server-Sent Events; see docs/events.md for the event types. 503 EVENTS_OFF when the api runs with EVENTS=off. ' +
  'At most EVENTS_STREAMS_PER_USER streams per user and EVENTS_STREAMS_PER_IP per client address (429), ' +
  'EVENTS_STREAMS_UNVERIFIED for an account whose address is not verified (429), EVENTS_MAX_STREAMS per replica (503). ' +
  'A stream ends after EVENTS_STREAM_MAX_LIFETIME_MS with `stream.end`, whose id is the Last-Event-ID to reconnect with. ' +
  'A client that reads too slowly gets `stream.dropped` and is disconnected.'

/**
 * The three event streams (SSE). Who: a signed-in user for their own
 * events and jobs, an admin for everything. How often: a handful of open
 * streams per user, each a long-lived response. Cost: one socket and at most
 * EVENTS_CLIENT_BUFFER_BYTES of buffered output per stream; no Redis work
 * per stream beyond a replay (the replica reads the stream once for all).
 */
const eventRoutes: FastifyPluginAsyncTypebox<{ replica: string }> = async (fastify, opts) => {
  const { store, hub, enabled } = fastify.eventStreams
  // Before the token is looked up: with EVENTS=off there is nothing to show anyone.
  if (!enabled) fastify.addHook('onRequest', async () => { throw new EventsOffError() })
  fastify.addHook('onRequest', fastify.authenticate)
  fastify.addHook('preHandler', async (request) => {
    const after = request.headers['last-event-id']
    if (typeof after === 'string' && !isStreamId(after)) throw new BadLastEventIdError()
  })

  fastify.get('/v1/events', {
    schema: {
      tags: ['events'],
      summary: 'Your own events, live (SSE)',
      description: STREAM_DESCRIPTION,
      security: [{ bearerAuth: [] }],
      headers: ResumeHeaders,
      response: { 200: SseBody, 400: ErrorBody, 401: ErrorBody, 429: ErrorBody, 503: ErrorBody }
    }
  }, async (request, reply) => {
    const userId = request.auth!.userId
    const stream = await fastify.eventStreams.open(request, reply)
    await pipeEvents({ stream, hub, store, log: request.log, after: request.headers['last-event-id'], owner: userId, accept: (e) => e.userId === userId })
  })

  fastify.get('/v1/jobs/:id/events', {
    schema: {
      tags: ['jobs', 'events'],
      summary: 'A job\'s status now, then each change (SSE); closed after DONE, FAILED or CANCELLED',
      description: `Your own jobs only (404 for others, as GET /v1/jobs/{id}). ${STREAM_DESCRIPTION}`,
      security: [{ bearerAuth: [] }],
      params: JobIdParams,
      headers: ResumeHeaders,
      response: { 200: SseBody, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 429: ErrorBody, 503: ErrorBody }
    }
  }, async (request, reply) => {
    const { id } = request.params
    const userId = request.auth!.userId
    if (!(await fastify.jobs.find(id, userId))) throw new NoSuchJobError()
    const subject = `job:${id}`
    const resumed = request.headers['last-event-id'] !== undefined
    // A new stream starts with the status now; a report of that status or an earlier one still on its
    // way (a fast worker's STARTED behind the IN_PROGRESS already read) is not a change after it.
    let shownRank = -1
    const isChange = (e: { data: Record<string, unknown> }) => jobStepRank(String(e.data.status), Number(e.data.attempts)) > shownRank
    const stream = await fastify.eventStreams.open(request, reply)
    await pipeEvents({
      stream,
      hub,
      store,
      log: request.log,
      after: request.headers['last-event-id'],
      // A job's events belong to its owner, the caller.
      owner: userId,
      accept: (e) => e.type === 'job.status' && e.subject === subject && e.userId === userId && isChange(e),
      endsWith: (e) => isTerminalStatus(String(e.data.status)),
      // Read after subscribing, so a change between the read and the subscription is not lost.
      prelude: async () => {
        const doc = await fastify.jobs.find(id, userId)
        if (!doc) return { type: 'job.status', json: '{}', final: true }
        if (!resumed) shownRank = jobStepRank(doc.status, doc.attempts)
        const event = { type: 'job.status', at: doc.updatedAt, service: 'api', replica: opts.replica, ...jobStatusEvent(doc) }
        return { type: 'job.status', json: JSON.stringify(event), final: isTerminalStatus(doc.status) }
      }
    })
  })

  fastify.get('/v1/admin/events', {
    onRequest: fastify.requireAdmin,
    schema: {
      tags: ['admin', 'events'],
      summary: 'Every event, plus `queue.stats` every second (SSE; admins only)',
      description: STREAM_DESCRIPTION,
      security: [{ bearerAuth: [] }],
      headers: ResumeHeaders,
      response: { 200: SseBody, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 429: ErrorBody, 503: ErrorBody }
    }
  }, async (request, reply) => {
    const stream = await fastify.eventStreams.open(request, reply, { admin: true })
    await pipeEvents({ stream, hub, store, log: request.log, after: request.headers['last-event-id'], accept: () => true })
  })
}

export default eventRoutes
