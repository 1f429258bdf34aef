import { randomBytes } from 'node:crypto'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { useTestApp } from '../helper'
import { apiKeyAuth } from '../api-keys'

describe('/v1/key/{key} over HTTP (file log)', () => {
  const t = useTestApp({ KV_MAX_VALUE_BYTES: '1024' })

  const url = (key: string) => `/v1/key/${encodeURIComponent(key)}`
  let auth: { authorization: string }
  beforeAll(async () => { auth = await apiKeyAuth(t.app, ['kv:write']) })
  /** inject with a kv:write key (which includes kv:read). */
  const kv = (opts: InjectOptions | string): Promise<LightMyRequestResponse> =>
    t.app.inject(typeof opts === 'string' ? { url: opts, headers: auth } : { ...opts, headers: { ...auth, ...opts.headers } })

  test("the book's curl session: PUT 201, GET 200, DELETE 200, GET 404", async () => {
    const put = await kv({ method: 'PUT', url: '/v1/key/key-a', payload: 'Hello, key-value store!' })
    expect(put.statusCode).toBe(201)
    const get = await kv('/v1/key/key-a')
    expect(get.statusCode).toBe(200)
    expect(get.body).toBe('Hello, key-value store!')
    expect(get.headers['content-type']).toBe('application/octet-stream')
    expect((await kv({ method: 'DELETE', url: '/v1/key/key-a' })).statusCode).toBe(200)
    const missing = await kv('/v1/key/key-a')
    expect(missing.statusCode).toBe(404)
    expect(missing.json()).toEqual({ error: 'NO_SUCH_KEY', message: 'no such key' })
  })

  test('PUT is idempotent and DELETE of an absent key is 200', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await kv({ method: 'PUT', url: '/v1/key/same', payload: 'v' })).statusCode).toBe(201)
    }
    expect((await kv('/v1/key/same')).body).toBe('v')
    expect((await kv({ method: 'DELETE', url: '/v1/key/never-was' })).statusCode).toBe(200)
  })

  test('values are raw bytes whatever the Content-Type', async () => {
    const json = '{"not":"parsed"}'
    await kv({ method: 'PUT', url: '/v1/key/json', payload: json, headers: { 'content-type': 'application/json' } })
    expect((await kv('/v1/key/json')).body).toBe(json)
    const bin = randomBytes(1000)
    await kv({ method: 'PUT', url: '/v1/key/bin', payload: bin, headers: { 'content-type': 'image/png' } })
    expect((await kv('/v1/key/bin')).rawPayload.equals(bin)).toBe(true)
    await kv({ method: 'PUT', url: '/v1/key/empty' })
    const empty = await kv('/v1/key/empty')
    expect(empty.statusCode).toBe(200)
    expect(empty.rawPayload.length).toBe(0)
  })

  test('hostile keys round-trip: tabs, newlines, %, /, NUL, emoji, 1024 bytes', async () => {
    const keys = ['tab\tkey', 'line\nbreak', '100%', 'a/b/c', 'nul\u0000', '😀 emoji', 'k'.repeat(1024), '?query#frag']
    for (const key of keys) {
      const put = await kv({ method: 'PUT', url: url(key), payload: `v:${key.slice(0, 100)}` })
      expect(put.statusCode).toBe(201)
    }
    for (const key of keys) {
      const get = await kv(url(key))
      expect(get.statusCode).toBe(200)
      expect(get.body).toBe(`v:${key.slice(0, 100)}`)
    }
  })

  test('bad keys -> 400 with a JSON message', async () => {
    const bad = ['/v1/key/', `/v1/key/${'k'.repeat(1025)}`, `/v1/key/${'%C3%A9'.repeat(513)}`, '/v1/key/%FF', '/v1/key/%zz', '/v1/key/%', '/v1/key/%C3', `/v1/key/${'x'.repeat(10000)}`]
    for (const u of bad) {
      const res = await kv({ method: 'PUT', url: u, payload: 'v' })
      expect({ u: u.slice(0, 40), status: res.statusCode }).toEqual({ u: u.slice(0, 40), status: 400 })
      expect(res.json()).toEqual({ error: 'BAD_KEY', message: expect.stringContaining('invalid key') })
      expect((await kv(u)).statusCode).toBe(400)
    }
  })

  test('a value over KV_MAX_VALUE_BYTES -> 413 and nothing stored', async () => {
    const res = await kv({ method: 'PUT', url: '/v1/key/big', payload: Buffer.alloc(1025) })
    expect(res.statusCode).toBe(413)
    expect(res.json().error).toBe('PAYLOAD_TOO_LARGE')
    expect((await kv('/v1/key/big')).statusCode).toBe(404)
    expect((await kv({ method: 'PUT', url: '/v1/key/big', payload: Buffer.alloc(1024) })).statusCode).toBe(201)
  })

  test('other methods -> 405 with Allow', async () => {
    for (const method of ['POST', 'PATCH', 'OPTIONS', 'TRACE'] as const) {
      const res = await kv({ method, url: '/v1/key/x', payload: 'v' })
      expect(res.statusCode).toBe(405)
      expect(res.headers.allow).toBe('GET, HEAD, PUT, DELETE')
      expect(res.json().error).toBe('METHOD_NOT_ALLOWED')
    }
    expect((await kv({ method: 'HEAD', url: '/v1/key/same' })).statusCode).toBe(200)
  })

  test('hostile values survive a restart of the app', async () => {
    const values: Record<string, Buffer> = {
      'r-tab': Buffer.from('a\tb\tc'),
      'r-nl': Buffer.from('a\nb\r\n'),
      'r-nul': Buffer.from([0, 1, 0]),
      'r-emoji': Buffer.from('😀'),
      'r-random': randomBytes(1024)
    }
    for (const [k, v] of Object.entries(values)) await kv({ method: 'PUT', url: url(k), payload: v })
    await t.restart()
    for (const [k, v] of Object.entries(values)) {
      expect((await kv(url(k))).rawPayload.equals(v)).toBe(true)
    }
    expect((await kv(url('tab\tkey'))).body).toBe('v:tab\tkey')
  })
})
