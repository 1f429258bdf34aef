import type { FastifyInstance } from 'fastify'
import { buildApp, testEnv, type TestEnv } from './helper'

describe('ops routes', () => {
  let env: TestEnv
  let app: FastifyInstance

  beforeAll(async () => {
    env = testEnv()
    app = await buildApp(env.config)
  })
  afterAll(async () => {
    await app.close()
    await env.cleanup()
  })

  test('GET /health answers ok', async () => {
    const res = await app.inject('/health')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'ok' })
  })

  test('GET /ready reports each dependency', async () => {
    const res = await app.inject('/ready')
    expect(res.statusCode).toBe(200)
    expect(res.json().checks).toMatchObject({ postgres: 'ok', redis: 'ok' })
  })

  test('GET /metrics exposes request and KV metrics in Prometheus format', async () => {
    await app.inject({ method: 'PUT', url: '/v1/key/m', payload: 'v' })
    const res = await app.inject('/metrics')
    expect(res.statusCode).toBe(200)
    expect(res.body).toContain('http_request_duration_seconds_bucket')
    expect(res.body).toContain('kv_operations_total{op="put",result="ok"} 1')
    expect(res.body).toContain('kv_log_fsync_seconds_count')
  })

  test('OpenAPI document lists the KV and ops routes', async () => {
    const res = await app.inject('/docs/json')
    expect(res.statusCode).toBe(200)
    const doc = res.json()
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/health', '/ready', '/v1/key/{key}']))
    const ui = await app.inject('/docs/static/swagger-ui.css')
    expect(ui.statusCode).toBe(200)
  })

  test('unknown route -> 404 in the JSON error shape', async () => {
    const res = await app.inject('/nope')
    expect(res.statusCode).toBe(404)
    expect(res.json()).toEqual({ error: 'NOT_FOUND', message: expect.any(String) })
  })
})
