import type { Pool } from 'pg'
import { databaseUrl, dropDatabase, namespaceTag } from '@socialnet/testing'
import { openDatabase } from '../src'

const silent = { info: () => {}, warn: () => {}, error: () => {} }

function freshUrl(): string {
  return databaseUrl(`socialnet_test_db_${namespaceTag()}`)
}

describe('openDatabase', () => {
  const urls: string[] = []
  afterAll(async () => { for (const url of urls) await dropDatabase(url) })

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
