import type { FastifyInstance } from 'fastify'
import { randomBytes } from 'node:crypto'
import { buildApp, testEnv, useTestApp } from '../helper'
import { apiKeyAuth } from '../api-keys'

describe('KV_LOG=postgres: two replicas share one store', () => {
  const t = useTestApp({ KV_LOG: 'postgres' }, { replicas: 2 })
  let a: FastifyInstance
  let b: FastifyInstance
  let auth: { authorization: string }
  beforeAll(async () => {
    [a, b] = t.replicas as [FastifyInstance, FastifyInstance]
    auth = await apiKeyAuth(a, ['kv:write'])
  })

  test('a write acknowledged by one replica is visible on the other at once', async () => {
    for (let i = 0; i < 20; i++) {
      const value = `value-${i}`
      expect((await a.inject({ headers: auth, method: 'PUT', url: '/v1/key/shared', payload: value })).statusCode).toBe(201)
      const read = await b.inject({ url: '/v1/key/shared', headers: auth })
      expect(read.statusCode).toBe(200)
      expect(read.body).toBe(value)
    }
    expect((await b.inject({ headers: auth, method: 'DELETE', url: '/v1/key/shared' })).statusCode).toBe(200)
    expect((await a.inject({ url: '/v1/key/shared', headers: auth })).statusCode).toBe(404)
  })

  test('hostile keys and values round-trip through Postgres', async () => {
    const cases: Array<[string, Buffer]> = [
      ['nul\u0000key', Buffer.from([0, 0, 0])], ['tab\tline\n', Buffer.from('a\tb\nc')], ['😀', randomBytes(4096)], ['empty', Buffer.alloc(0)]
    ]
    for (const [k, v] of cases) {
      expect((await a.inject({ headers: auth, method: 'PUT', url: `/v1/key/${encodeURIComponent(k)}`, payload: v })).statusCode).toBe(201)
    }
    for (const [k, v] of cases) {
      const res = await b.inject({ url: `/v1/key/${encodeURIComponent(k)}`, headers: auth })
      expect(res.statusCode).toBe(200)
      expect(res.rawPayload.equals(v)).toBe(true)
    }
  })

  test('compaction removes superseded rows once they are old enough, keeping the newest', async () => {
    for (let i = 0; i < 5; i++) await a.inject({ headers: auth, method: 'PUT', url: '/v1/key/old', payload: `v${i}` })
    await a.inject({ headers: auth, method: 'PUT', url: '/v1/key/tomb', payload: 'x' })
    await a.inject({ headers: auth, method: 'DELETE', url: '/v1/key/tomb' })
    await a.db.query("UPDATE kv_log SET created_at = now() - interval '2 minutes'")
    const removed = await (a.kv as unknown as { compact(): Promise<number> }).compact()
    expect(removed).toBeGreaterThanOrEqual(4 + 2)
    const { rows } = await a.db.query("SELECT count(*)::int AS n FROM kv_log WHERE key = convert_to('old', 'UTF8')")
    expect(rows[0].n).toBe(1)
    expect((await b.inject({ url: '/v1/key/old', headers: auth })).body).toBe('v4')
    expect((await b.inject({ url: '/v1/key/tomb', headers: auth })).statusCode).toBe(404)
  })

  test('Postgres unreachable -> 503 with the JSON error shape, not a 500', async () => {
    // Open, so the request reaches the store: with keys, the key lookup would be what fails first.
    const broken = testEnv({ KV_LOG: 'postgres', KV_AUTH: 'open' })
    const c = await buildApp(broken.config)
    await c.db.end()
    const res = await c.inject({ method: 'PUT', url: '/v1/key/x', payload: 'v' })
    expect(res.statusCode).toBe(503)
    expect(res.json()).toEqual({ error: 'KV_UNAVAILABLE', message: 'Service Unavailable' })
    // The pool is already ended; closing the app must still succeed.
    await c.close().catch(() => {})
    await broken.cleanup()
  })
})
