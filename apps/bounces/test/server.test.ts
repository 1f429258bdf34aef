import { once } from 'node:events'
import { databaseUrl, dropDatabase, namespaceTag } from '@socialnet/testing'
import { freePort, spawnBounces, VERP, waitFor } from './harness'

describe('dist/server.js', () => {
  const database = databaseUrl(`socialnet_test_bounces_server_${namespaceTag()}`)
  afterAll(async () => {
    await dropDatabase(database)
  })

  test('a bad environment: one clear line and exit 1', async () => {
    const { child, output } = spawnBounces({ BOUNCE_DOMAIN: VERP.domain, BOUNCE_SECRET: 'too-short' })
    const [code] = await once(child, 'exit')
    expect(code).toBe(1)
    expect(output()).toMatch(/^bounces: invalid environment: .*BOUNCE_SECRET/)
  })

  test('serves /health, /ready and /metrics on OPS_PORT, and exits 0 on SIGTERM', async () => {
    const [smtpPort, opsPort] = [await freePort(), await freePort()]
    const { child, output } = spawnBounces({
      BOUNCE_DOMAIN: VERP.domain,
      BOUNCE_SECRET: VERP.secret,
      BOUNCE_SMTP_PORT: String(smtpPort),
      BOUNCE_SMTP_HOST: '127.0.0.1',
      DATABASE_URL: database,
      EVENTS: 'off',
      OPS_PORT: String(opsPort),
      LOG_LEVEL: 'info'
    })
    const get = (path: string) => fetch(`http://127.0.0.1:${opsPort}${path}`).then(async (res) => ({ status: res.status, body: await res.text() }), () => undefined)
    await waitFor(async () => (await get('/ready'))?.status === 200, `ready (output: ${output()})`)
    expect((await get('/health'))?.status).toBe(200)
    const metrics = await get('/metrics')
    expect(metrics?.body).toMatch(/# TYPE bounces_reports_total counter/)
    expect(metrics?.body).toMatch(/process_cpu_seconds_total/)
    expect(output()).toMatch(/"msg":"bounce receiver started"/)

    child.kill('SIGTERM')
    const [code] = await once(child, 'exit')
    expect(code).toBe(0)
    expect(output()).toMatch(/"msg":"bounce receiver stopped"/)
  })
})
