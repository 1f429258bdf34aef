import fp from 'fastify-plugin'
import type { Pool } from 'pg'
import { openDatabase } from '@socialnet/db'

declare module 'fastify' {
  interface FastifyInstance {
    /** The api's one Postgres pool; every query goes through it. */
    db: Pool
  }
}

/** Postgres pool: database created and migrated at start, released in onClose. */
export default fp(async function db(fastify, opts: { databaseUrl: string }) {
  const pool = await openDatabase(opts.databaseUrl, fastify.log)
  fastify.decorate('db', pool)
  fastify.readiness.add('postgres', async () => { await pool.query('SELECT 1') })
  fastify.addHook('onClose', async () => { await pool.end() })
}, { name: 'db', dependencies: ['readiness'] })
