import { randomBytes } from 'node:crypto'
import { Client } from 'pg'
import type { Pool } from 'pg'
import { openDatabase } from '../src'

const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const silent = { info: () => {}, warn: () => {}, error: () => {} }

function freshUrl(): string {
  const url = new URL(ADMIN_URL)
  url.pathname = `/socialnet_test_db_${randomBytes(4).toString('hex')}`
  return url.toString()
}

async function drop(url: string): Promise<void> {
  const admin = new Client({ connectionString: ADMIN_URL })
  await admin.connect()
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${new URL(url).pathname.slice(1)}" WITH (FORCE)`)
  } finally {
    await admin.end()
  }
}

describe('openDatabase', () => {
  const urls: string[] = []
  afterAll(async () => { for (const url of urls) await drop(url) })

  test('creates a missing database and applies every migration', async () => {
    const url = freshUrl()
    urls.push(url)
    const pool = await openDatabase(url, silent)
    try {
      const { rows } = await pool.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
      expect(rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(['pgmigrations', 'kv_log', 'users', 'outbox']))
    } finally {
      await pool.end()
    }
  })

  test('replicas starting together on a fresh database all come up (create + migrate race)', async () => {
    const url = freshUrl()
    urls.push(url)
    const pools: Pool[] = await Promise.all(Array.from({ length: 4 }, () => openDatabase(url, silent)))
    try {
      const { rows } = await pools[0]!.query<{ n: number }>('SELECT count(*)::int AS n FROM pgmigrations')
      const { rows: again } = await pools[3]!.query<{ n: number }>('SELECT count(DISTINCT name)::int AS n FROM pgmigrations')
      expect(rows[0]!.n).toBe(again[0]!.n)
    } finally {
      await Promise.all(pools.map((p) => p.end()))
    }
  })

  test('opening an up-to-date database again changes nothing', async () => {
    const url = freshUrl()
    urls.push(url)
    await (await openDatabase(url, silent)).end()
    const infos: string[] = []
    const pool = await openDatabase(url, { ...silent, info: (_o: object, msg: string) => { infos.push(msg) } })
    await pool.end()
    expect(infos).toEqual([])
  })

  test('an unreachable server fails with the driver error, not a hang', async () => {
    await expect(openDatabase('postgres://postgres@127.0.0.1:1/nowhere', silent)).rejects.toThrow(/ECONNREFUSED/)
  })
})
