import fp from 'fastify-plugin'
import { Counter } from 'prom-client'
import { EventPublisher, NoEvents, startHeartbeat, type EventSink, type Heartbeat } from '@socialnet/broker'

declare module 'fastify' {
  interface FastifyInstance {
    /** Emits events (docs/events.md) without waiting: never blocks or fails the work that emits them. */
    events: EventSink
  }
}

/**
 * The api's event publisher on its one broker connection, and this replica's
 * heartbeat through it (from ready until the close starts). Events dropped
 * (broker away long enough to fill the buffer) are counted in
 * socialnet_events_dropped_total; onClose closes it before the connection
 * (plugins close in reverse order). With EVENTS=off (`enabled` false) it is a
 * sink that keeps nothing: no channel, no heartbeat.
 */
export default fp(async function events(fastify, opts: { enabled: boolean; replica: string; maxBuffered: number; heartbeatMs: number }) {
  if (!opts.enabled) {
    fastify.decorate('events', new NoEvents())
    return
  }
  const dropped = new Counter({
    name: 'socialnet_events_dropped_total',
    help: 'Events this process could not publish (buffer full while the broker was away, or nacked)',
    registers: [fastify.metrics.registry]
  })
  const publisher = new EventPublisher(fastify.broker.connection, {
    service: 'api',
    replica: opts.replica,
    maxBuffered: opts.maxBuffered,
    onDropped: (n) => dropped.inc(n)
  })
  fastify.decorate('events', publisher)
  let heartbeat: Heartbeat | undefined
  fastify.addHook('onReady', async () => { heartbeat = startHeartbeat(publisher, { intervalMs: opts.heartbeatMs }) })
  fastify.addHook('preClose', async () => { heartbeat?.stop() })
  fastify.addHook('onClose', async () => { await publisher.close() })
}, { name: 'events', dependencies: ['broker', 'metrics'] })
