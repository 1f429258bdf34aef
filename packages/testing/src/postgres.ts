import { Client } from 'pg'
import { serviceAddress, withinDeadline } from './deadline'
import { PG_ADMIN_URL, SERVICE_TIMEOUT_MS } from './services'

/** The URL of database `name` on the shared Postgres (the app creates it on first start). */
export function databaseUrl(name: string): string {
  const url = new URL(PG_ADMIN_URL)
  url.pathname = `/${name}`
  return url.toString()
}

/**
 * node-postgres options for a test's own Client or Pool (`new Pool({ connectionString, ...pgBounds() })`):
 * the connection (TCP and startup) and each query give up after `timeoutMs`. node-postgres's
 * defaults wait for ever on a server that accepted the socket and stopped answering.
 */
export function pgBounds(timeoutMs = SERVICE_TIMEOUT_MS): { connectionTimeoutMillis: number, query_timeout: number } {
  return { connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs }
}

/**
 * Runs `work` on a superuser connection to the maintenance database, bounded:
 * the connection and each query give up after `timeoutMs` with an error naming
 * PostgreSQL, and the connection is always closed.
 */
export async function withPgAdmin<T>(work: (admin: Client) => Promise<T>, { url = PG_ADMIN_URL, timeoutMs = SERVICE_TIMEOUT_MS } = {}): Promise<T> {
  const service = `PostgreSQL at ${serviceAddress(url)}`
  const admin = new Client({ connectionString: url, ...pgBounds(timeoutMs) })
  admin.on('error', () => {}) // a connection lost between queries fails the next query instead
  try {
    // connectionTimeoutMillis covers the TCP connect and the startup exchange.
    await admin.connect().catch((err: Error) => { throw new Error(`${service}: ${/timeout/i.test(err.message) ? `no connection within ${timeoutMs / 1000} s` : err.message}`) })
    return await work(admin).catch((err: Error) => { throw new Error(`${service}: ${err.message}`) })
  } finally {
    // end() waits for the server to close its end; a wedged one never does, so drop the socket.
    await withinDeadline(admin.end(), 1000, service, () => admin.connection.stream.destroy()).catch(() => {})
  }
}

/** Drops a test's database (by name or URL), even while a killed process still holds connections to it. */
export async function dropDatabase(nameOrUrl: string): Promise<void> {
  const name = nameOrUrl.includes('://') ? new URL(nameOrUrl).pathname.slice(1) : nameOrUrl
  await withPgAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS "${name.replaceAll('"', '""')}" WITH (FORCE)`))
}
