import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { ForbiddenError, UnauthorizedError } from '../errors'
import { QueueStatsReader } from './queue-stats'
import { DeadLetterService } from './dlq'
import { MailDeliveryService } from './mail'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * onRequest hook, after fastify.authenticate: 403 unless the caller has the
     * admin role. The role is read from the database on every call, so a
     * promotion or demotion takes effect at once, not at the next login.
     */
    requireAdmin: (request: FastifyRequest) => Promise<void>
    /** Work queue depths and consumers, shared by the admin routes and the admin event stream. */
    queueStats: QueueStatsReader
    /** Dead-letter inspection, replay and purge (the admin routes; `npm run dlq` builds its own). */
    deadLetters: DeadLetterService
    /** The delivery log and the suppression list (the admin routes; `npm run admin -- suppression` builds its own). */
    mailDelivery: MailDeliveryService
  }
}

export interface AdminOptions {
  amqpUrl: string
  managementUrl?: string
}

/** What admin routes share: the role check, the queue stats reader, the dead-letter and the mail delivery services. */
export default fp(async function admin(fastify, opts: AdminOptions) {
  fastify.decorate('requireAdmin', async (request: FastifyRequest) => {
    if (!request.auth) throw new UnauthorizedError('a bearer token is required (POST /v1/sessions)')
    const { rows } = await fastify.db.query<{ role: string }>('SELECT role FROM users WHERE id = $1', [request.auth.userId])
    if (rows[0]?.role !== 'admin') throw new ForbiddenError('only an admin may do that (npm run admin -- promote <email>)')
  })
  fastify.decorate('queueStats', new QueueStatsReader({
    connection: fastify.broker.connection,
    amqpUrl: opts.amqpUrl,
    managementUrl: opts.managementUrl
  }))
  const audit = fastify.log.child({ component: 'admin' })
  fastify.decorate('deadLetters', new DeadLetterService(fastify.broker.connection, audit))
  fastify.decorate('mailDelivery', new MailDeliveryService(fastify.db, audit))
}, { name: 'admin', dependencies: ['db', 'broker', 'sessions'] })
