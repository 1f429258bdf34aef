import { Client } from 'pg'
import { PG_ADMIN_URL } from './services'

/** The URL of database `name` on the shared Postgres (the app creates it on first start). */
export function databaseUrl(name: string): string {
  const url = new URL(PG_ADMIN_URL)
  url.pathname = `/${name}`
  return url.toString()
}

/** Drops a test's database (by name or URL), even while a killed process still holds connections to it. */
export async function dropDatabase(nameOrUrl: string): Promise<void> {
  const name = nameOrUrl.includes('://') ? new URL(nameOrUrl).pathname.slice(1) : nameOrUrl
  const admin = new Client({ connectionString: PG_ADMIN_URL })
  await admin.connect()
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name.replaceAll('"', '""')}" WITH (FORCE)`)
  } finally {
    await admin.end()
  }
}
