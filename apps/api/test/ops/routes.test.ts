import { loadApiConfig } from '../../src/config'
import { useTestApp } from '../helper'
import type { FastifyInstance } from 'fastify'
import { apiKeyAuth } from '../api-keys'

/** Adds a readiness check that fails, with a text naming an internal address, until the returned function is called. */
function failingCheck(app: FastifyInstance): () => void {
  let failing = true
  app.readiness.add('search', async () => { if (failing) throw new Error('connect ECONNREFUSED 10.20.30.40:9200') })
  return () => { failing = false }
}

describe('ops routes', () => {
  const t = useTestApp()

  test('GET /health answers ok', async () => {
    const res = await t.app.inject('/health')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'ok' })
  })

  test('GET /ready reports each dependency', async () => {
    const res = await t.app.inject('/ready')
    expect(res.statusCode).toBe(200)
    expect(res.json().checks).toMatchObject({ postgres: 'ok', redis: 'ok' })
  })

  test('GET /ready names a failing dependency without its error text (no METRICS_TOKEN configured)', async () => {
    const recover = failingCheck(t.app)
    try {
      const res = await t.app.inject({ url: '/ready', headers: { authorization: 'Bearer anything-at-all-0123' } })
      expect(res.statusCode).toBe(503)
      expect(res.json()).toEqual({ status: 'unavailable', checks: expect.objectContaining({ postgres: 'ok', redis: 'ok', search: 'failed' }) })
      expect(res.body).not.toContain('10.20.30.40')
    } finally {
      recover()
    }
    expect((await t.app.inject('/ready')).statusCode).toBe(200)
  })

  test('GET /metrics exposes request and KV metrics in Prometheus format', async () => {
    await t.app.inject({ method: 'PUT', url: '/v1/key/m', payload: 'v', headers: await apiKeyAuth(t.app) })
    const res = await t.app.inject('/metrics')
    expect(res.statusCode).toBe(200)
    expect(res.body).toContain('http_request_duration_seconds_bucket')
    expect(res.body).toContain('http_request_duration_seconds_count{method="PUT",route="/v1/key/:key",status="201"} 1')
    expect(res.body).toContain('kv_log_fsync_seconds_count')
  })

  test('OpenAPI document lists every route of the README, errors in the one error shape', async () => {
    const res = await t.app.inject('/docs/json')
    expect(res.statusCode).toBe(200)
    const doc = res.json()
    // Every route the README names is documented, and every error it documents has the one error shape.
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([
      '/health', '/ready', '/metrics', '/v1/key/{key}', '/v1/users', '/v1/users/verify', '/v1/users/{id}', '/v1/users/me', '/v1/users/me/verification',
      '/v1/sessions', '/v1/sessions/current', '/v1/users/{id}/avatar', '/v1/images/{id}', '/v1/jobs', '/v1/jobs/{id}',
      '/job/database', '/job/mail', '/job/callback', '/job/status', '/v1/events', '/v1/jobs/{id}/events', '/v1/admin/events'
    ]))
    expect(Object.keys(doc.paths['/v1/events'].get.responses['200'].content)).toEqual(['text/event-stream'])
    for (const [path, operations] of Object.entries<Record<string, { responses: Record<string, { content?: Record<string, { schema: { required?: string[] } }> }> }>>(doc.paths)) {
      for (const [method, { responses }] of Object.entries(operations)) {
        for (const [status, response] of Object.entries(responses)) {
          // /ready's 503 is its check report, not an error.
          if (Number(status) < 400 || path === '/ready') continue
          const schema = response.content?.['application/json']?.schema
          expect({ path, method, status, required: schema?.required }).toEqual({ path, method, status, required: ['error', 'message'] })
        }
      }
    }
    const ui = await t.app.inject('/docs/static/swagger-ui.css')
    expect(ui.statusCode).toBe(200)
  })

  test('unknown route -> 404 in the JSON error shape', async () => {
    const res = await t.app.inject('/nope')
    expect(res.statusCode).toBe(404)
    expect(res.json()).toEqual({ error: 'NOT_FOUND', message: expect.any(String) })
  })

  test('GET / points a newcomer at the API documentation', async () => {
    const res = await t.app.inject('/')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ docs: '/docs', openapi: '/docs/json' })
  })

  test('OpenAPI describes the raw KV value and the avatar upload, so "Try it out" can send them', async () => {
    const doc = (await t.app.inject('/docs/json')).json()
    const kv = doc.paths['/v1/key/{key}'].put.requestBody.content
    expect(kv['application/octet-stream'].schema).toMatchObject({ type: 'string', format: 'binary' })
    expect(kv['text/plain'].schema).toMatchObject({ type: 'string' })
    const avatar = doc.paths['/v1/users/{id}/avatar'].put.requestBody.content['multipart/form-data'].schema
    expect(avatar).toMatchObject({ type: 'object', required: ['image'], properties: { image: { type: 'string', format: 'binary' } } })
    // Documenting the body changed nothing in how it is read: any content type, raw bytes.
    const auth = await apiKeyAuth(t.app)
    const put = await t.app.inject({ method: 'PUT', url: '/v1/key/docs-body', headers: { ...auth, 'content-type': 'application/json' }, payload: '{not json' })
    expect(put.statusCode).toBe(201)
    expect((await t.app.inject({ url: '/v1/key/docs-body', headers: auth })).body).toBe('{not json')
  })
})

describe('ops routes with METRICS_TOKEN set', () => {
  const token = 'metrics-token-0123456789abcdef'
  const t = useTestApp({ METRICS_TOKEN: token })

  test('/metrics: 401 without or with a wrong bearer token, 200 with the right one', async () => {
    const none = await t.app.inject('/metrics')
    expect(none.statusCode).toBe(401)
    expect(none.json()).toEqual({ error: 'UNAUTHORIZED', message: expect.stringContaining('METRICS_TOKEN') })
    expect(none.headers['www-authenticate']).toContain('Bearer')
    for (const authorization of [`Bearer ${token}x`, `Basic ${token}`, 'Bearer', `Bearer ${token.slice(1)}`]) {
      expect((await t.app.inject({ url: '/metrics', headers: { authorization } })).statusCode).toBe(401)
    }
    const ok = await t.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${token}` } })
    expect(ok.statusCode).toBe(200)
    expect(ok.body).toContain('http_request_duration_seconds')
  })

  test('/ready: a failure\'s text only with the metrics token; everyone else reads "failed"', async () => {
    const recover = failingCheck(t.app)
    try {
      for (const headers of [{}, { authorization: `Bearer ${token}x` }, { authorization: `Basic ${token}` }]) {
        const res = await t.app.inject({ url: '/ready', headers })
        expect(res.statusCode).toBe(503)
        expect(res.json().checks).toMatchObject({ postgres: 'ok', search: 'failed' })
        expect(res.body).not.toContain('10.20.30.40')
      }
      const operator = await t.app.inject({ url: '/ready', headers: { authorization: `Bearer ${token}` } })
      expect(operator.statusCode).toBe(503)
      expect(operator.json().checks).toMatchObject({ postgres: 'ok', search: 'connect ECONNREFUSED 10.20.30.40:9200' })
    } finally {
      recover()
    }
  })

  test('/health and /ready stay open', async () => {
    expect((await t.app.inject('/health')).statusCode).toBe(200)
    expect((await t.app.inject('/ready')).statusCode).toBe(200)
  })
})

describe('METRICS_TOKEN validation', () => {
  test.each([['too short', 'short'], ['with a space', 'a token with spaces in it']])('%s -> a clear config error', (_why, value) => {
    expect(() => loadApiConfig({ METRICS_TOKEN: value })).toThrow(/METRICS_TOKEN/)
  })
})
