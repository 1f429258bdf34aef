import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { loadApiConfig } from '../../src/config'
import { buildApp, useTestApp } from '../helper'
import { signUp } from '../accounts'

describe('security headers (helmet)', () => {
  const t = useTestApp({ KV_AUTH: 'open' })

  test('JSON and KV responses: nosniff, nothing may load or frame them, no HSTS over plain HTTP', async () => {
    const responses = [
      await t.app.inject('/health'),
      await t.app.inject('/v1/users/me'),
      await t.app.inject({ method: 'POST', url: '/v1/users', payload: {} }),
      await t.app.inject('/nope'),
      await t.app.inject({ method: 'PUT', url: '/v1/key/headers', payload: '<script>alert(1)</script>' }),
      await t.app.inject('/v1/key/headers')
    ]
    for (const res of responses) {
      expect(res.headers['x-content-type-options']).toBe('nosniff')
      expect(res.headers['x-frame-options']).toBe('DENY')
      expect(res.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'")
      expect(res.headers['strict-transport-security']).toBeUndefined()
      expect(res.headers['x-powered-by']).toBeUndefined()
    }
  })

  test('the same security header block on every kind of response: a value, a missing key (404 thrown by a handler that answers without a promise), HEAD, 405, 400, an unknown route', async () => {
    const securityHeaders = (headers: Record<string, unknown>) => Object.fromEntries(Object.entries(headers)
      .filter(([name]) => !['date', 'content-type', 'content-length', 'connection', 'keep-alive', 'x-request-id', 'allow', 'location', 'cache-control'].includes(name)))
    await t.app.inject({ method: 'PUT', url: '/v1/key/same-headers', payload: 'v' })
    const reference = securityHeaders((await t.app.inject('/health')).headers)
    expect(Object.keys(reference).length).toBeGreaterThanOrEqual(8)
    const responses = [
      [200, await t.app.inject('/v1/key/same-headers')],
      [404, await t.app.inject('/v1/key/no-such-key')],
      [200, await t.app.inject({ method: 'HEAD', url: '/v1/key/same-headers' })],
      [405, await t.app.inject({ method: 'POST', url: '/v1/key/same-headers', payload: 'v' })],
      [400, await t.app.inject({ method: 'POST', url: '/v1/users', payload: {} })],
      [404, await t.app.inject('/nope')]
    ] as const
    for (const [status, res] of responses) {
      expect(res.statusCode).toBe(status)
      expect(securityHeaders(res.headers)).toEqual(reference)
      expect(res.headers['x-request-id']).toMatch(/^[\w.-]+$/)
    }
    expect(responses[1][1].json()).toEqual({ error: 'NO_SUCH_KEY', message: expect.any(String) })
  })

  test('/docs: swagger-ui\'s own CSP allowances, never framed, no upgrade-insecure-requests over HTTP', async () => {
    for (const url of ['/docs', '/docs/static/swagger-initializer.js']) {
      const res = await t.app.inject(url)
      expect(res.statusCode).toBe(200)
      const csp = res.headers['content-security-policy'] as string
      expect(csp).toMatch(/script-src 'self'/)
      expect(csp).toContain("img-src 'self' data:")
      expect(csp).toContain("frame-ancestors 'none'")
      expect(csp).not.toContain('upgrade-insecure-requests')
      expect(res.headers['x-frame-options']).toBe('DENY')
      expect(res.headers['x-content-type-options']).toBe('nosniff')
    }
  })

  test('the own profile and a new session are never cached (Cache-Control: no-store)', async () => {
    const ada = await signUp(t.app)
    const me = await t.app.inject({ url: '/v1/users/me', headers: ada.auth })
    expect(me.statusCode).toBe(200)
    expect(me.headers['cache-control']).toBe('no-store')
    const patched = await t.app.inject({ method: 'PATCH', url: `/v1/users/${ada.id}`, headers: ada.auth, payload: { firstName: 'Ada' } })
    expect(patched.headers['cache-control']).toBe('no-store')
    const session = await t.app.inject({ method: 'POST', url: '/v1/sessions', payload: { login: ada.nickname, password: ada.password } })
    expect(session.statusCode).toBe(201)
    expect(session.headers['cache-control']).toBe('no-store')
  })

  test('HSTS when the api serves HTTPS itself (TLS_CERT/TLS_KEY)', async () => {
    const cert = join(t.env.dir, 'cert.pem')
    const key = join(t.env.dir, 'key.pem')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' })
    const https = await buildApp(loadApiConfig({ ...t.env.env, TLS_CERT: cert, TLS_KEY: key }))
    try {
      const res = await https.inject('/health')
      expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains')
      const docs = await https.inject('/docs')
      expect(docs.headers['content-security-policy']).toContain('upgrade-insecure-requests')
    } finally {
      await https.close()
    }
  })
})
