import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { useTestApp } from '../helper'
import { INDEX_HTML, fakeConsoleBuild } from './fake-build'

const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'

describe('the web console served by the api', () => {
  const dir = fakeConsoleBuild()
  const t = useTestApp({ CONSOLE_DIR: dir, PUBLIC_URL: 'https://social.example' })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('a browser opening / gets the console page, under a CSP that allows only its own files', async () => {
    const res = await t.app.inject({ url: '/', headers: { accept: BROWSER } })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(res.body).toBe(INDEX_HTML)
    expect(res.headers['cache-control']).toBe('no-cache')
    expect(res.headers.vary).toContain('accept')
    const csp = String(res.headers['content-security-policy'])
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("connect-src 'self'")
    expect(csp).toContain("img-src 'self' https://social.example blob: data:")
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).not.toContain('unsafe-inline')
    expect(res.headers['x-content-type-options']).toBe('nosniff')
  })

  test('the page revalidates: the same ETag answers 304', async () => {
    const first = await t.app.inject({ url: '/', headers: { accept: BROWSER } })
    const etag = String(first.headers.etag)
    for (const ifNoneMatch of [etag, `"other", W/${etag}`]) {
      const again = await t.app.inject({ url: '/', headers: { accept: BROWSER, 'if-none-match': ifNoneMatch } })
      expect(again.statusCode).toBe(304)
      expect(again.body).toBe('')
    }
    const changed = await t.app.inject({ url: '/', headers: { accept: BROWSER, 'if-none-match': '"older"' } })
    expect(changed.statusCode).toBe(200)
  })

  test.each([
    ['no Accept', {}],
    ['Accept: */* (curl)', { accept: '*/*' }],
    ['Accept: application/json', { accept: 'application/json' }]
  ])('GET / with %s still answers the JSON links', async (_name, headers) => {
    const res = await t.app.inject({ url: '/', headers })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ name: 'Social network API', docs: '/docs', openapi: '/docs/json', health: '/health' })
    expect(res.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'")
    expect(res.headers.vary).toContain('accept')
  })

  test('a console page opened in a browser (a reload, the mail link) gets the page too', async () => {
    for (const url of ['/verify?token=abc', '/login', '/admin']) {
      const res = await t.app.inject({ url, headers: { accept: BROWSER } })
      expect({ url, status: res.statusCode, body: res.body }).toEqual({ url, status: 200, body: INDEX_HTML })
    }
    const head = await t.app.inject({ method: 'HEAD', url: '/login', headers: { accept: BROWSER } })
    expect(head.statusCode).toBe(200)
    expect(head.body).toBe('')
  })

  test('a console page asked for as JSON is a 404 in the one error shape', async () => {
    const res = await t.app.inject({ url: '/login', headers: { accept: 'application/json' } })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toEqual({ error: 'NOT_FOUND', message: '/login is a page of the web console: open it in a browser' })
  })

  test('hashed files are cached for good, other files revalidated, the build manifest is not served', async () => {
    const script = await t.app.inject('/assets/index-Ab12Cd34.js')
    expect(script.statusCode).toBe(200)
    expect(script.headers['content-type']).toMatch(/^(text|application)\/javascript/)
    expect(script.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    const style = await t.app.inject('/assets/index-Ef56Gh78.css')
    expect(style.headers['content-type']).toMatch(/^text\/css/)
    const icon = await t.app.inject('/favicon.svg')
    expect(icon.statusCode).toBe(200)
    expect(icon.headers['cache-control']).toBe('no-cache')
    for (const url of ['/assets/missing.js', '/pages.json', '/index.html', '/assets/../pages.json']) {
      const res = await t.app.inject({ url, headers: { accept: BROWSER } })
      expect({ url, status: res.statusCode, error: res.json().error }).toEqual({ url, status: 404, error: 'NOT_FOUND' })
    }
  })

  test('a browser opening an unknown path gets the console with 404 (its own not-found page); API clients and API paths keep the JSON 404', async () => {
    for (const url of ['/unknown-page', '/users/42/photos?x=1', '/login/extra']) {
      const res = await t.app.inject({ url, headers: { accept: BROWSER } })
      expect({ url, status: res.statusCode, type: res.headers['content-type'], body: res.body }).toEqual({ url, status: 404, type: 'text/html; charset=utf-8', body: INDEX_HTML })
      expect(String(res.headers['content-security-policy'])).toContain("script-src 'self'")
    }
    for (const [url, accept] of [['/unknown-page', 'application/json'], ['/unknown-page', '*/*'], ['/v1/nope', BROWSER], ['/docs/nope', BROWSER], ['/favicon.ico', BROWSER]] as const) {
      const res = await t.app.inject({ url, headers: { accept } })
      expect({ url, accept, status: res.statusCode, error: res.json().error }).toEqual({ url, accept, status: 404, error: 'NOT_FOUND' })
    }
    const post = await t.app.inject({ method: 'POST', url: '/unknown-page', headers: { accept: BROWSER } })
    expect([post.statusCode, post.json().error]).toEqual([404, 'NOT_FOUND'])
  })

  test('API, docs, probes and the book routes answer as before, whatever the Accept header', async () => {
    const headers = { accept: BROWSER }
    const me = await t.app.inject({ url: '/v1/users/me', headers })
    expect(me.statusCode).toBe(401)
    expect(me.json().error).toBe('UNAUTHORIZED')
    expect((await t.app.inject({ url: '/health', headers })).json()).toEqual({ status: 'ok' })
    expect((await t.app.inject({ url: '/job/status?uuid=x', headers })).statusCode).toBe(401)
    const docs = await t.app.inject({ url: '/docs/', headers })
    expect(docs.statusCode).toBe(200)
    expect(docs.body).toContain('swagger')
    const paths = Object.keys((await t.app.inject('/docs/json')).json().paths)
    expect(paths).toContain('/')
    expect(paths).not.toContain('/login')
    expect(paths.some((p) => p.startsWith('/assets'))).toBe(false)
  })
})

describe('an api without a console build', () => {
  const t = useTestApp({ CONSOLE_DIR: join(__dirname, 'no-such-build') })

  test('GET / answers the JSON links even to a browser, and console paths are unknown', async () => {
    const root = await t.app.inject({ url: '/', headers: { accept: BROWSER } })
    expect(root.statusCode).toBe(200)
    expect(root.json().docs).toBe('/docs')
    const login = await t.app.inject({ url: '/login', headers: { accept: BROWSER } })
    expect([login.statusCode, login.json().error]).toEqual([404, 'NOT_FOUND'])
  })
})
