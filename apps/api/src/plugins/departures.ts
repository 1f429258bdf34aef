import fp from 'fastify-plugin'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'

declare module 'fastify' {
  interface FastifyInstance {
    /** Resolves when this replica may stop listening: no other replica is leaving, or the wait is over. */
    waitForTurnToLeave: () => Promise<void>
  }
}

export interface DeparturesOptions {
  /** Longest a stopping replica keeps serving while another one is away; 0 = leave at once. */
  maxWaitMs: number
  /** How long a new replica listens before it hands the turn on (a proxy must re-resolve and retry it). */
  settleMs: number
  /** Redis key of the turn, shared by the replicas of one deployment. */
  key: string
  /** A waiting replica that served no request (probes aside) for this long leaves: nobody needs it. */
  idleMs: number
}

/**
 * One api replica leaves at a time. `docker compose restart api` (or `stop`, or `up` with a
 * new image) signals every replica at the same moment; if they all stopped listening together,
 * nginx would have no replica to send requests to until the first came back. So a stopping
 * replica first takes the "leaving" turn in Redis, and the others keep serving normally until
 * a replica that started since has listened for `settleMs`, which frees the turn. A waiting
 * replica that no request reaches for `idleMs` leaves (on `docker compose down` nginx stops
 * first); one that no successor relieves leaves after `maxWaitMs`; a Redis error never holds a
 * shutdown up.
 */
export default fp(async function departures(fastify, opts: DeparturesOptions) {
  const me = `${hostname()}:${process.pid}`
  let settle: NodeJS.Timeout | undefined
  let lastRequestAt = Date.now()

  fastify.addHook('onRequest', (request, _reply, done) => {
    if (request.url !== '/health' && request.url !== '/ready') lastRequestAt = Date.now()
    done()
  })

  fastify.addHook('onListen', async () => {
    if (opts.maxWaitMs <= 0 || settle) return
    settle = setTimeout(() => {
      fastify.redis.del(opts.key).catch((err: Error) => fastify.log.warn({ err: err.message }, 'could not hand the leaving turn on'))
    }, opts.settleMs)
    settle.unref()
  })
  fastify.addHook('onClose', async () => clearTimeout(settle))

  fastify.decorate('waitForTurnToLeave', async () => {
    if (opts.maxWaitMs <= 0) return
    const started = Date.now()
    let announced = false
    for (;;) {
      try {
        // The turn expires by itself, so a replica that never comes back cannot block the others for good.
        if (await fastify.redis.set(opts.key, me, 'PX', opts.maxWaitMs, 'NX') === 'OK') {
          if (announced) fastify.log.info({ waitedMs: Date.now() - started }, 'my turn to leave')
          return
        }
      } catch (err) {
        fastify.log.warn({ err: (err as Error).message }, 'leaving without waiting for my turn: Redis unavailable')
        return
      }
      if (announced && Date.now() - lastRequestAt >= opts.idleMs) {
        fastify.log.info({ waitedMs: Date.now() - started }, 'leaving while another replica is away: no request for a while')
        return
      }
      if (Date.now() - started >= opts.maxWaitMs) {
        fastify.log.warn({ waitedMs: Date.now() - started }, 'leaving while another replica is still away: none came back in time')
        return
      }
      if (!announced) {
        announced = true
        fastify.log.info({ holder: await fastify.redis.get(opts.key).catch(() => null) }, 'another replica is leaving; serving until one is back')
      }
      await sleep(250)
    }
  })
}, { name: 'departures', dependencies: ['redis'] })
