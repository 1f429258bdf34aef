import fp from 'fastify-plugin'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { BrokerConnection, Publisher, launcherOfThisProcess } from '@socialnet/broker'

declare module 'fastify' {
  interface FastifyInstance {
    /** The api's one RabbitMQ connection and its confirming publisher (outbox relay, jobs). */
    broker: { connection: BrokerConnection; publisher: Publisher }
  }
}

export interface BrokerPluginOptions {
  url: string
  /** Prefix of every exchange/queue name (AMQP_PREFIX; tests isolate with it). */
  prefix: string
  /** How long start-up waits for the first connection before going on without it. */
  connectWaitMs?: number
}

/**
 * One BrokerConnection per process, connecting and reconnecting in the
 * background: the api starts and keeps serving while RabbitMQ is down (the
 * outbox holds what could not be published), and GET /ready reports it.
 * onClose closes the publisher (after its pending confirms) and then the connection.
 */
export default fp(async function broker(fastify, opts: BrokerPluginOptions) {
  const connection = new BrokerConnection({
    url: opts.url,
    prefix: opts.prefix,
    name: `api@${hostname()}:${process.pid}`,
    // Its events collector shows itself on the broker, and warns of another copy's api on the same queue.
    launcher: launcherOfThisProcess(),
    log: fastify.log.child({ component: 'broker' })
  })
  const publisher = new Publisher(connection)
  // A healthy replica should be ready (GET /ready) as soon as it listens, so start-up
  // waits briefly for the broker; a broker that is down must not keep the api from
  // serving, so after that it goes on and keeps connecting in the background.
  const connected = connection.connect()
  connected.catch(() => {})
  const waited = new AbortController()
  await Promise.race([connected, sleep(opts.connectWaitMs ?? 5000, undefined, { signal: waited.signal })]).catch(() => {})
  waited.abort()
  fastify.decorate('broker', { connection, publisher })
  fastify.readiness.add('rabbitmq', async () => {
    if (!connection.isConnected) throw new Error('not connected')
  })
  fastify.addHook('onClose', async () => {
    await publisher.close()
    await connection.close()
  })
}, { name: 'broker', dependencies: ['readiness'] })
