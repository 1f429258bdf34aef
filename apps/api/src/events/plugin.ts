import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Counter, Gauge } from 'prom-client'
import { EventCollector } from './collector'
import { EventStore } from './event-store'
import { EventHub } from './hub'
import { SseStream } from './sse-stream'
import { startQueueStatsTicker } from './queue-stats-ticker'
import { bearerToken } from '../sessions/plugin'
import { startSessionRecheck, type StreamOwner } from './session-recheck'
import { StreamsClosingError, StreamsFullError, StreamsNeedVerifiedEmailError, TooManyStreamsError, TooManyStreamsFromAddressError } from '../errors'

declare module 'fastify' {
  interface FastifyInstance {
    /** The event stream of this replica: its store, its one reader, and its open SSE streams. */
    eventStreams: EventStreams
  }
}

/** What the event routes use. */
export interface EventStreams {
  /** False with EVENTS=off: no collector, no reader, and every stream route answers 503 EVENTS_OFF. */
  enabled: boolean
  store: EventStore
  hub: EventHub
  /**
   * Opens an SSE response for the caller, within the caps: per unverified account, per user
   * and per client address (429), per replica (503). It ends by itself after its lifetime.
   */
  open(request: FastifyRequest, reply: FastifyReply, opts?: { admin?: boolean }): Promise<SseStream>
  /** Ends every open stream (clients reconnect to another replica); shutdown calls it before draining. */
  closeAll(): void
}

export interface EventStreamOptions {
  /** EVENTS=on; off: nothing here starts (the routes refuse with 503 EVENTS_OFF). */
  enabled: boolean
  redisPrefix: string
  streamMaxLen: number
  perUser: number
  /** Streams one client address may hold on this replica, whatever the accounts (EVENTS_STREAMS_PER_IP). */
  perIp: number
  /** Streams an account whose address is not verified may hold (EVENTS_STREAMS_UNVERIFIED; 0 = none). */
  perUnverified: number
  /** A stream ends (`stream.end`, with the id to resume from) after about this long (EVENTS_STREAM_MAX_LIFETIME_MS). */
  maxLifetimeMs: number
  maxStreams: number
  clientBufferBytes: number
  heartbeatMs: number
  replica: string
}

/**
 * Collects events into the Redis stream (EventCollector), reads it back once
 * per replica (EventHub) and keeps the open SSE streams: their caps, their
 * metrics, the admin streams' `queue.stats`, the re-check of their
 * sessions, and their end at shutdown
 * (preClose, so fastify's close is not held up by streams that never end).
 */
export default fp(async function eventStreams(fastify, opts: EventStreamOptions) {
  const { registry } = fastify.metrics
  const collected = new Counter({ name: 'socialnet_events_collected_total', help: 'Events this replica moved from the broker into the event stream', registers: [registry] })
  const discarded = new Counter({ name: 'socialnet_events_discarded_total', help: 'Events taken from the broker but not stored (malformed, or Redis refused)', registers: [registry] })
  const slowDropped = new Counter({ name: 'socialnet_sse_dropped_total', help: 'Event streams closed because the client read too slowly', registers: [registry] })
  const openGauge = new Gauge({ name: 'socialnet_sse_streams', help: 'Event streams (SSE) open on this replica', registers: [registry] })

  const store = new EventStore(fastify.redis, opts.redisPrefix, opts.streamMaxLen)
  const hub = new EventHub(fastify.redis, store, fastify.log.child({ component: 'events' }))
  const collector = new EventCollector(fastify.broker.connection, store, fastify.log.child({ component: 'events' }), {
    collected: () => collected.inc(),
    discarded: () => discarded.inc()
  })
  const streams = new Set<SseStream>()
  const admins = new Set<SseStream>()
  /** Who opened each stream, with the token to re-check while it lasts. */
  const owners = new Map<SseStream, StreamOwner>()
  const perUser = new Map<string, number>()
  const perIp = new Map<string, number>()
  const refused = new Counter({ name: 'socialnet_sse_refused_total', help: 'Event streams refused, by the cap that refused them', labelNames: ['limit'], registers: [registry] })
  const countDown = (counts: Map<string, number>, key: string): void => {
    const left = (counts.get(key) ?? 1) - 1
    if (left > 0) counts.set(key, left)
    else counts.delete(key)
  }
  /** Whether the account may hold more than EVENTS_STREAMS_UNVERIFIED streams: verified address, or admin. Read now, not from the session. */
  const isVerified = async (userId: string): Promise<boolean> => {
    const { rows } = await fastify.db.query<{ verified: boolean }>(
      "SELECT email_verified_at IS NOT NULL OR role = 'admin' AS verified FROM users WHERE id = $1", [userId])
    return rows[0]?.verified ?? false
  }
  const limits = { maxBufferedBytes: opts.clientBufferBytes, heartbeatMs: opts.heartbeatMs, replica: opts.replica }
  /** Set once the replica started closing: a stream opened then would hold the close up. */
  let closing = false

  const service: EventStreams = {
    enabled: opts.enabled,
    store,
    hub,
    async open(request, reply, { admin = false } = {}) {
      const userId = request.auth!.userId
      // Read before the counts below, which are checked and taken with no await between them.
      const verified = admin || await isVerified(userId)
      const mine = perUser.get(userId) ?? 0
      // request.ip is the client behind a TRUST_PROXY proxy: many free accounts from one address share one cap.
      const address = request.ip
      const fromAddress = perIp.get(address) ?? 0
      const refuse = (limit: string, err: Error): never => { refused.inc({ limit }); throw err }
      if (!verified && mine >= opts.perUnverified) refuse('unverified', new StreamsNeedVerifiedEmailError(opts.perUnverified))
      if (mine >= opts.perUser) refuse('per_user', new TooManyStreamsError(opts.perUser))
      if (fromAddress >= opts.perIp) refuse('per_ip', new TooManyStreamsFromAddressError(opts.perIp))
      // 503 while closing too, saying so: nginx retries the GET on another replica.
      if (closing) refuse('closing', new StreamsClosingError())
      if (streams.size >= opts.maxStreams) refuse('replica', new StreamsFullError())
      const stream = new SseStream(reply, limits, request.id)
      perUser.set(userId, mine + 1)
      perIp.set(address, fromAddress + 1)
      // A stream that lived for ever would keep its slot for ever. Spread by up to a tenth, so the
      // streams opened together (a replica restart) do not all reconnect together.
      const lifetime = setTimeout(() => stream.end('the stream reached its maximum lifetime; reconnect with Last-Event-ID'),
        opts.maxLifetimeMs * (0.9 + Math.random() * 0.1))
      lifetime.unref()
      streams.add(stream)
      owners.set(stream, { token: bearerToken(request.headers.authorization) ?? '', userId, admin })
      if (admin) admins.add(stream)
      openGauge.set(streams.size)
      stream.onClose(() => {
        clearTimeout(lifetime)
        streams.delete(stream)
        admins.delete(stream)
        owners.delete(stream)
        countDown(perUser, userId)
        countDown(perIp, address)
        openGauge.set(streams.size)
        if (stream.dropped) slowDropped.inc()
      })
      return stream
    },
    closeAll() {
      closing = true
      for (const stream of [...streams]) stream.close()
    }
  }
  fastify.decorate('eventStreams', service)
  // EVENTS=off: no collector, no reader, no tickers; the routes refuse before they get here.
  if (!opts.enabled) return

  const ticker = startQueueStatsTicker({
    streams: admins,
    read: async () => ({ ...await fastify.queueStats.read(), replicas: await store.replicasSeen() }),
    replica: opts.replica,
    log: fastify.log.child({ component: 'events' })
  })

  const recheck = startSessionRecheck({
    owners,
    sessionUser: async (token) => (await fastify.sessions.store.find(token))?.userId,
    isAdmin: async (userId) => {
      const { rows } = await fastify.db.query<{ role: string }>('SELECT role FROM users WHERE id = $1', [userId])
      return rows[0]?.role === 'admin'
    },
    // The heartbeat's pace: a logged-out session's streams end within one interval.
    intervalMs: opts.heartbeatMs
  })

  // The hub starts reading when a stream opens, not here: a replica nobody watches reads nothing.
  fastify.addHook('onReady', async () => { collector.start() })
  fastify.addHook('preClose', async () => {
    recheck.stop()
    ticker.stop()
    service.closeAll()
  })
  fastify.addHook('onClose', async () => {
    await collector.stop()
    await hub.stop()
  })
}, { name: 'event-streams', dependencies: ['redis', 'db', 'broker', 'metrics', 'sessions', 'admin'] })
