import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { useTestApp } from '../helper'
import { apiKeyAuth } from '../api-keys'
import { createApiKey, revokeApiKey } from '../../src/api-keys/repository'

describe('/v1/key/{key} access with KV_AUTH=token (the default)', () => {
  // No cache: a revocation is visible to the very next request (the cache has its own test).
  const t = useTestApp({ API_KEY_CACHE_MS: '0' })

  test('no key -> 401 with WWW-Authenticate for every method, and nothing is written', async () => {
    for (const method of ['GET', 'HEAD', 'PUT', 'DELETE'] as const) {
      const res = await t.app.inject({ method, url: '/v1/key/k', payload: method === 'PUT' ? 'stranger' : undefined })
      expect({ method, status: res.statusCode }).toEqual({ method, status: 401 })
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="socialnet"/)
      if (method !== 'HEAD') expect(res.json()).toEqual({ error: 'UNAUTHORIZED', message: expect.stringContaining('API key') })
    }
    const read = await t.app.inject({ url: '/v1/key/k', headers: await apiKeyAuth(t.app, ['kv:read']) })
    expect(read.statusCode).toBe(404)
  })

  test('a malformed, unknown or session-like token -> 401 invalid_token', async () => {
    const tokens = ['nope', 'snk_' + 'A'.repeat(43), 'snk_short', 'a'.repeat(64)]
    for (const token of tokens) {
      const res = await t.app.inject({ url: '/v1/key/k', headers: { authorization: `Bearer ${token}` } })
      expect({ token, status: res.statusCode }).toEqual({ token, status: 401 })
      expect(res.headers['www-authenticate']).toContain('error="invalid_token"')
    }
  })

  test('kv:read may GET but not PUT or DELETE (403 insufficient_scope); kv:write may do all three', async () => {
    const reader = await apiKeyAuth(t.app, ['kv:read'])
    const writer = await apiKeyAuth(t.app, ['kv:write'])
    expect((await t.app.inject({ method: 'PUT', url: '/v1/key/s', payload: 'v', headers: writer })).statusCode).toBe(201)
    for (const method of ['PUT', 'DELETE'] as const) {
      const res = await t.app.inject({ method, url: '/v1/key/s', payload: method === 'PUT' ? 'overwritten' : undefined, headers: reader })
      expect(res.statusCode).toBe(403)
      expect(res.json()).toEqual({ error: 'FORBIDDEN', message: 'this API key lacks the scope kv:write' })
      expect(res.headers['www-authenticate']).toContain('error="insufficient_scope", scope="kv:write"')
    }
    for (const auth of [reader, writer]) {
      const res = await t.app.inject({ url: '/v1/key/s', headers: auth })
      expect(res.statusCode).toBe(200)
      expect(res.body).toBe('v')
    }
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/key/s', headers: writer })).statusCode).toBe(200)
  })

  test('a revoked key -> 401; use is recorded in last_used_at', async () => {
    const { apiKey, key } = await createApiKey(t.app.db, { name: 'to revoke', scopes: ['kv:write'] })
    const auth = { authorization: `Bearer ${key}` }
    expect((await t.app.inject({ method: 'PUT', url: '/v1/key/r', payload: 'v', headers: auth })).statusCode).toBe(201)
    const { rows } = await t.app.db.query('SELECT last_used_at FROM api_keys WHERE id = $1', [apiKey.id])
    expect(rows[0].last_used_at).toBeInstanceOf(Date)
    await revokeApiKey(t.app.db, apiKey.id)
    const res = await t.app.inject({ url: '/v1/key/r', headers: auth })
    expect(res.statusCode).toBe(401)
    expect(res.json().message).toBe('the API key is unknown or revoked')
  })

  test('only the hash of a key is stored', async () => {
    const { apiKey, key } = await createApiKey(t.app.db, { name: 'hashed', scopes: ['kv:read'] })
    expect(key).toMatch(/^snk_[A-Za-z0-9_-]{43}$/)
    const { rows } = await t.app.db.query('SELECT row_to_json(k)::text AS row FROM api_keys k WHERE id = $1', [apiKey.id])
    expect(rows[0].row).not.toContain(key.slice(4))
  })

  test("a stranger's 1 MiB PUT is refused before its body is sent", async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = t.app.server.address() as AddressInfo
    // Headers only: if the api waited for the body, no answer would come.
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write('PUT /v1/key/big HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n')
      })
      let data = ''
      socket.on('data', (d) => {
        data += d.toString()
        if (data.includes('\r\n\r\n')) { socket.destroy(); resolve(data) }
      })
      socket.on('error', reject)
    })
    expect(answer).toMatch(/^HTTP\/1\.1 401 /)
  })

  test('other methods stay 405 with Allow (they touch no data)', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/key/x', payload: 'v' })
    expect(res.statusCode).toBe(405)
    expect(res.headers.allow).toBe('GET, HEAD, PUT, DELETE')
  })

  test('/docs shows the API key requirement and the 401/403/507 answers', async () => {
    const doc = (await t.app.inject('/docs/json')).json()
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' })
    const path = doc.paths['/v1/key/{key}']
    for (const method of ['get', 'put', 'delete']) {
      expect(path[method].security).toEqual([{ apiKey: [] }])
      expect(Object.keys(path[method].responses)).toEqual(expect.arrayContaining(['401', '403']))
    }
    expect(Object.keys(path.put.responses)).toContain('507')
  })
})

describe('/v1/key/{key} with KV_AUTH=open', () => {
  const t = useTestApp({ KV_AUTH: 'open' })

  test("anyone may write and read: the book's open store", async () => {
    expect((await t.app.inject({ method: 'PUT', url: '/v1/key/open', payload: 'v' })).statusCode).toBe(201)
    expect((await t.app.inject('/v1/key/open')).body).toBe('v')
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/key/open' })).statusCode).toBe(200)
  })

  test('/docs does not claim a key is needed', async () => {
    const doc = (await t.app.inject('/docs/json')).json()
    expect(doc.paths['/v1/key/{key}'].get.security).toBeUndefined()
  })
})
