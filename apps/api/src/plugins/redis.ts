import fp from 'fastify-plugin'
import Redis from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    /** The api's one Redis client (rate-limit counters, sessions, job status). */
    redis: Redis
  }
}

/** ioredis client, connected at start and quit in onClose. */
export default fp(async function redis(fastify, opts: { redisUrl: string }) {
  const client = new Redis(opts.redisUrl, {
    lazyConnect: true,
    // Fail a command fast while Redis is away instead of queueing requests behind it.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 5000,
    // Commands issued within one turn of the event loop go out as one write: under load the
    // session lookups and status writes of many requests share a send (and Redis's reply one
    // read). One write per command was the largest item of the api's CPU per job submission.
    enableAutoPipelining: true
  })
  client.on('error', (err) => fastify.log.warn({ err: err.message }, 'redis connection error'))
  await client.connect()
  fastify.decorate('redis', client)
  fastify.readiness.add('redis', async () => { await client.ping() })
  fastify.addHook('onClose', async () => { await client.quit().catch(() => client.disconnect()) })
}, { name: 'redis', dependencies: ['readiness'] })
