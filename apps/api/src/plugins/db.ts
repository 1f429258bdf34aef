import fp from 'fastify-plugin'
import { Client, Pool } from 'pg'
import { runner } from 'node-pg-migrate'
import { join } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'

declare module 'fastify' {
  interface FastifyInstance {
    /** The api's one Postgres pool; every query goes through it. */
    db: Pool
  }
}

/** Folder of the versioned SQL migrations (shipped beside src/ and dist/). */
export const MIGRATIONS_DIR = join(__dirname, '..', '..', 'migrations')

/**
 * Creates the database named in the URL if it does not exist. Several replicas
 * may race here on a first start; losing the race (42P04) is success.
 */
export async function ensureDatabase(databaseUrl: string, log: FastifyBaseLogger): Promise<void> {
  const url = new URL(databaseUrl)
  const name = decodeURIComponent(url.pathname.slice(1))
  if (!name) return
  const probe = new Client({ connectionString: databaseUrl })
  try {
    await probe.connect()
    return
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') throw err
  } finally {
    await probe.end().catch(() => {})
  }
  url.pathname = '/postgres'
  const admin = new Client({ connectionString: url.toString() })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`)
    log.info({ database: name }, 'created database')
  } catch (err) {
    if ((err as { code?: string }).code !== '42P04') throw err
  } finally {
    await admin.end()
  }
}

/** Applies pending migrations; node-pg-migrate's advisory lock keeps concurrent replicas from colliding. */
export async function migrate(pool: Pool, log: FastifyBaseLogger): Promise<void> {
  const client = await pool.connect()
  try {
    const applied = await runner({
      dbClient: client,
      dir: MIGRATIONS_DIR,
      direction: 'up',
      migrationsTable: 'pgmigrations',
      checkOrder: true,
      log: () => {},
      logger: { debug: () => {}, info: () => {}, warn: (m: string) => log.warn(m), error: (m: string) => log.error(m) }
    })
    if (applied.length > 0) log.info({ migrations: applied.map((m) => m.name) }, 'database migrated')
  } finally {
    client.release()
  }
}

/** Postgres pool: database created and migrated at start, released in onClose. */
export default fp(async function db(fastify, opts: { databaseUrl: string }) {
  await ensureDatabase(opts.databaseUrl, fastify.log)
  const pool = new Pool({ connectionString: opts.databaseUrl, max: 10, connectionTimeoutMillis: 5000 })
  // An idle client losing its connection emits here; without a listener it would crash the process.
  pool.on('error', (err) => fastify.log.error({ err }, 'postgres pool error'))
  try {
    await migrate(pool, fastify.log)
  } catch (err) {
    await pool.end()
    throw err
  }
  fastify.decorate('db', pool)
  fastify.readiness.add('postgres', async () => { await pool.query('SELECT 1') })
  fastify.addHook('onClose', async () => { await pool.end() })
}, { name: 'db', dependencies: ['readiness'] })
