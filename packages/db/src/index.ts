import { Client, Pool } from 'pg'
import { runner } from 'node-pg-migrate'
import { join } from 'node:path'

/** The subset of a pino logger this package writes to. */
export interface DbLogger {
  info(obj: object, msg: string): void
  warn(obj: object | string, msg?: string): void
  error(obj: object | string, msg?: string): void
}

/**
 * Postgres could not be reached or refused us at start. The message names
 * Postgres, where we looked (no password) and the variable to fix, because the
 * driver's own text ("role x does not exist", "ECONNREFUSED") names neither.
 */
export class DatabaseConnectError extends Error {
  readonly code = 'DATABASE_UNREACHABLE'
  constructor(databaseUrl: string, cause: Error) {
    super(`cannot connect to Postgres at ${describeTarget(databaseUrl)} (check DATABASE_URL): ${cause.message}`, { cause })
  }
}

/** user@host:port/database of a connection URL, without its password. */
function describeTarget(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl)
    const user = url.username ? `${decodeURIComponent(url.username)}@` : ''
    return `${user}${url.hostname}:${url.port || '5432'}${url.pathname}`
  } catch {
    return 'an unparseable URL'
  }
}

/** Connects a client, turning a failure into a DatabaseConnectError unless `keep(err)` says otherwise. */
async function connectOrExplain(client: Client, databaseUrl: string, keep: (err: { code?: string }) => boolean = () => false): Promise<void> {
  try {
    await client.connect()
  } catch (err) {
    if (keep(err as { code?: string })) throw err
    throw new DatabaseConnectError(databaseUrl, err as Error)
  }
}

/** Folder of the versioned SQL migrations (node-pg-migrate format, ms-timestamp prefixes). */
export const MIGRATIONS_DIR = join(__dirname, '..', 'migrations')

/**
 * Creates the database named in the URL if it does not exist. Several replicas
 * may race here on a first start; losing the race (42P04) is success.
 */
export async function ensureDatabase(databaseUrl: string, log: DbLogger): Promise<void> {
  const url = new URL(databaseUrl)
  const name = decodeURIComponent(url.pathname.slice(1))
  if (!name) return
  const probe = new Client({ connectionString: databaseUrl })
  try {
    // 3D000 invalid_catalog_name: the server is there, the database is not (yet).
    await connectOrExplain(probe, databaseUrl, (err) => err.code === '3D000')
    return
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') throw err
  } finally {
    await probe.end().catch(() => {})
  }
  url.pathname = '/postgres'
  const admin = new Client({ connectionString: url.toString() })
  await connectOrExplain(admin, databaseUrl)
  try {
    await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`)
    log.info({ database: name }, 'created database')
  } catch (err) {
    // 42P04 duplicate_database; 23505 is what a concurrent CREATE DATABASE of the same
    // name reports when it loses the race on pg_database's unique index.
    const code = (err as { code?: string }).code
    if (code !== '42P04' && code !== '23505') throw err
  } finally {
    await admin.end()
  }
}

/** Arbitrary constant naming this project's migration lock among Postgres advisory locks. */
const MIGRATION_LOCK_KEY = 7_241_865_325

/**
 * Applies pending migrations. node-pg-migrate's own lock is a try-lock that
 * fails a replica starting beside another ("Another migration is already
 * running"); a blocking advisory lock makes it wait and then find nothing to do.
 */
export async function migrate(pool: Pool, log: DbLogger): Promise<void> {
  const client = await pool.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
    const applied = await runner({
      noLock: true,
      dbClient: client,
      dir: MIGRATIONS_DIR,
      direction: 'up',
      migrationsTable: 'pgmigrations',
      checkOrder: false,
      log: () => {},
      logger: { debug: () => {}, info: () => {}, warn: (m: string) => log.warn(m), error: (m: string) => log.error(m) }
    })
    if (applied.length > 0) log.info({ migrations: applied.map((m) => m.name) }, 'database migrated')
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {})
    client.release()
  }
}

/**
 * Creates (if missing) and migrates the database, then returns a pool with an
 * error listener attached: an idle client losing its connection emits there,
 * and without a listener that would crash the process.
 */
export async function openDatabase(databaseUrl: string, log: DbLogger, max = 10): Promise<Pool> {
  await ensureDatabase(databaseUrl, log)
  const pool = new Pool({ connectionString: databaseUrl, max, connectionTimeoutMillis: 5000 })
  pool.on('error', (err) => log.error({ err }, 'postgres pool error'))
  try {
    await migrate(pool, log)
  } catch (err) {
    await pool.end()
    throw err
  }
  return pool
}
export { withTransaction } from './transaction'
export { DatabaseEnv } from './env'
