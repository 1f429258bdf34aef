import { useTestApp } from '../helper'
import { apiKeyAuth } from '../api-keys'

/**
 * KV_MAX_TOTAL_BYTES caps keys + values of live entries, on both stores, and
 * the count survives a restart (file replay, Postgres recount).
 */
describe.each([['file'], ['postgres']])('KV_MAX_TOTAL_BYTES with KV_LOG=%s', (log) => {
  const t = useTestApp({ KV_LOG: log, KV_MAX_TOTAL_BYTES: '100' })
  let auth: { authorization: string }
  beforeAll(async () => { auth = await apiKeyAuth(t.app, ['kv:write']) })
  const put = (key: string, bytes: number) => t.app.inject({ method: 'PUT', url: `/v1/key/${key}`, payload: Buffer.alloc(bytes, 'v'), headers: auth })

  test('a PUT past the cap -> 507 with a clear message and nothing stored; overwriting and deleting free space', async () => {
    expect((await put('k1', 58)).statusCode).toBe(201) // 60 bytes live
    const full = await put('k2', 39) // would be 101
    expect(full.statusCode).toBe(507)
    expect(full.json()).toEqual({ error: 'KV_FULL', message: expect.stringContaining('KV_MAX_TOTAL_BYTES = 100 bytes') })
    expect((await t.app.inject({ url: '/v1/key/k2', headers: auth })).statusCode).toBe(404)
    expect((await put('k2', 38)).statusCode).toBe(201) // exactly 100
    expect((await put('k1', 59)).statusCode).toBe(507) // an overwrite that grows past it
    expect((await put('k1', 18)).statusCode).toBe(201) // shrinking frees 40: 60 live
    expect((await put('k3', 38)).statusCode).toBe(201) // 100
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/key/k3', headers: auth })).statusCode).toBe(200)
    expect((await put('k4', 38)).statusCode).toBe(201) // the delete freed 40
  })

  test('after a restart the live data is counted again', async () => {
    await t.restart()
    expect((await put('k5', 1)).statusCode).toBe(507)
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/key/k4', headers: auth })).statusCode).toBe(200)
    expect((await put('k5', 38)).statusCode).toBe(201)
  })
})
