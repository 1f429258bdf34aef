import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SMTPServer } from 'smtp-server'
import { topology } from '@socialnet/broker'
import { connectAmqp, databaseUrl, namespaceTag, REGISTRATION_LIMITS_OFF, waitFor } from '@socialnet/testing'
import { RunningStack, dropTestNamespace, kvWriteAuthorization, send, stackPorts, type StackStatus } from './running-stack'

// `npm run stack` for real: Debian's nginx in front of two api replicas, two mailers and a
// worker, against the local Postgres/Redis/RabbitMQ. Own database, queue prefix, ports, SMTP.
// The rolling restart has a stack of its own: stack-rolling-restart.test.ts.
const tag = namespaceTag()
const database = `socialnet_test_stack_${tag}`
const prefix = `test-stack-${tag}.`
const dir = mkdtempSync(join(tmpdir(), 'socialnet-stack-'))
const received: string[] = []
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData(stream, _session, done) {
    let text = ''
    stream.on('data', (c: Buffer) => { text += c.toString() })
    stream.on('end', () => { received.push(text); done() })
  }
})
let stack: RunningStack
let status: StackStatus
let base: string
/** `authorization` with a kv:write key minted by the admin CLI: the stack's KV store is not open. */
let kvAuth: Record<string, string>

function accessLog(): { request_id: string; client_request_id: string; upstream_addr: string; status: number; uri: string }[] {
  return readFileSync(status.nginxAccessLog, 'utf8').trim().split('\n').map((line) => JSON.parse(line))
}

beforeAll(async () => {
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve))
  const smtpPort = (smtp.server.address() as { port: number }).port
  stack = new RunningStack(dir, {
    ...await stackPorts(),
    API_REPLICAS: '2',
    MAILER_REPLICAS: '2',
    WORKER_REPLICAS: '1',
    DATABASE_URL: databaseUrl(database),
    AMQP_PREFIX: prefix,
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    RATE_LIMIT_RPS: '0',
    ...REGISTRATION_LIMITS_OFF,
    UPLOAD_MAX_BYTES: '1048576',
    CALLBACK_ALLOW_HOSTS: '127.0.0.1',
    LOG_LEVEL: 'info'
  })
  status = await stack.ready()
  base = status.http
  kvAuth = await kvWriteAuthorization(database)
}, 120000)

afterAll(async () => {
  let code: number | null | undefined
  try {
    code = await stack?.stop()
  } finally {
    // Each step on its own: one failing must not leave the others' leftovers behind.
    smtp.close()
    await dropTestNamespace(database, prefix)
    rmSync(dir, { recursive: true, force: true })
  }
  // Ctrl-C stops every process gracefully: the stack itself exits 0.
  expect(code).toBe(0)
}, 90000)

describe('npm run stack (nginx + 2 api + 2 mailers + worker as local processes)', () => {
  test('nginx balances requests across both api replicas', async () => {
    const ids = Array.from({ length: 10 }, (_, i) => `balance-${tag}-${i}`)
    for (const id of ids) expect((await send(`${base}/health`, { headers: { 'x-request-id': id } })).status).toBe(200)
    const served = new Set(accessLog().filter((l) => ids.includes(l.client_request_id)).map((l) => l.upstream_addr))
    expect([...served].sort()).toEqual(status.api.map((a) => `127.0.0.1:${a.port}`).sort())
  })

  test('nginx mints every request id: a client\'s X-Request-Id is only logged beside it; the api gets and echoes nginx\'s', async () => {
    const claimed = `claimed-${tag}`
    const answers = [await send(`${base}/health`, { headers: { 'x-request-id': claimed } }), await send(`${base}/health`, { headers: { 'x-request-id': claimed } })]
    const lines = accessLog().filter((l) => l.client_request_id === claimed)
    expect(lines).toHaveLength(2)
    expect(lines.map((l) => l.request_id)).toEqual(answers.map((a) => a.headers['x-request-id']))
    expect(new Set(lines.map((l) => l.request_id)).size).toBe(2)
    for (const l of lines) expect(l.request_id).toMatch(/^[0-9a-f]{32}$/)
  })

  test('the access log writes secret query values (a verification token) as [redacted]', async () => {
    const id = `redact-${tag}`
    await send(`${base}/v1/users/verify?lang=en&token=SECRET-${tag}`, { headers: { 'x-request-id': id } })
    expect(accessLog().filter((l) => l.client_request_id === id).map((l) => l.uri)).toEqual(['/v1/users/verify?lang=en&token=[redacted]'])
    expect(readFileSync(status.nginxAccessLog, 'utf8')).not.toContain(`SECRET-${tag}`)
  })

  test('a key written on one replica is read on the other (KV_LOG=postgres)', async () => {
    const [a, b] = status.api
    const key = `stack-${tag}`
    expect((await send(`http://127.0.0.1:${a!.port}/v1/key/${key}`, { method: 'PUT', body: 'written on A', headers: kvAuth })).status).toBe(201)
    const read = await send(`http://127.0.0.1:${b!.port}/v1/key/${key}`, { headers: kvAuth })
    expect([read.status, read.body]).toEqual([200, 'written on A'])
    expect((await send(`${base}/v1/key/${key}`)).status).toBe(401)
    const viaNginx = await send(`${base}/v1/key/${key}`, { headers: kvAuth })
    expect([viaNginx.status, viaNginx.body]).toEqual([200, 'written on A'])
  })

  test('/metrics and /ready are refused through nginx, in any spelling, but served to an internal scraper or probe', async () => {
    for (const path of ['/metrics', '/metrics/', '//metrics', '/./metrics', '/metrics?x=1', '/%6detrics', '/ready', '/ready/', '//ready', '/ready?x=1', '/%72eady']) {
      const res = await send(`${base}${path}`)
      expect([path, res.status]).toEqual([path, 403])
      expect(JSON.parse(res.body)).toEqual({ error: 'FORBIDDEN', message: 'this route is internal' })
    }
    expect((await send(`http://127.0.0.1:${status.api[0]!.port}/metrics`)).status).toBe(200)
    expect((await send(`http://127.0.0.1:${status.api[0]!.port}/ready`)).status).toBe(200)
  })

  test('nginx serves the web console to browsers; API clients get the api at the same paths', async () => {
    const html = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }
    const ids: string[] = []
    for (const path of ['/', '/verify?token=abc', '/admin']) {
      const id = `console-${tag}-${ids.length}`
      ids.push(id)
      const page = await send(`${base}${path}`, { headers: { ...html, 'x-request-id': id } })
      expect([path, page.status, page.headers['content-type']]).toEqual([path, 200, 'text/html; charset=utf-8'])
      expect(page.body).toContain('<div id="app">')
      expect(page.headers['content-security-policy']).toMatch(/^default-src 'self';script-src 'self';/)
      expect(page.headers['cache-control']).toBe('no-cache')
    }
    // Served from the console's directory by nginx itself: no upstream was asked.
    expect(accessLog().filter((l) => ids.includes(l.client_request_id)).map((l) => l.upstream_addr)).toEqual(['', '', ''])
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec((await send(`${base}/`, { headers: html })).body)?.[1]
    const script = await send(`${base}${asset}`)
    expect([script.status, script.headers['cache-control']]).toEqual([200, 'public, max-age=31536000, immutable'])
    expect(JSON.parse((await send(`${base}/`)).body)).toMatchObject({ docs: '/docs' })
    expect(JSON.parse((await send(`${base}/admin`)).body)).toMatchObject({ error: 'NOT_FOUND' })
    expect((await send(`${base}/assets/missing.js`)).status).toBe(404)
    // The page only through the page rule (with its CSP); the build's page list not at all.
    for (const path of ['/index.html', '/pages.json']) expect([path, (await send(`${base}${path}`, { headers: html })).status]).toEqual([path, 404])
  })

  test('bodies over UPLOAD_MAX_BYTES are refused by nginx with the api error shape', async () => {
    const res = await send(`${base}/v1/key/too-big`, { method: 'PUT', body: Buffer.alloc(1048576 + 1) })
    expect(res.status).toBe(413)
    expect(JSON.parse(res.body).error).toBe('PAYLOAD_TOO_LARGE')
  })

  test('TLS is terminated by nginx with the dev certificate (SAN 127.0.0.1)', async () => {
    const ca = readFileSync(join(dir, 'tls/cert.pem'))
    const answer = await new Promise<number>((resolve, reject) => {
      httpsRequest(`${status.https}/health`, { ca }, (res) => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject).end()
    })
    expect(answer).toBe(200)
  })

  test('two mailers consume from the one mail queue (competing consumers)', async () => {
    const connection = await connectAmqp('amqp://guest:guest@127.0.0.1:5672')
    const channel = await connection.createChannel()
    const queue = topology({ prefix }).queues.mail.name
    try {
      expect(queue).toMatch(/mail/)
      // "stack ready" means nginx and the api answer; the consumers come up beside it.
      await waitFor(async () => (await channel.checkQueue(queue)).consumerCount === 2, 'two mailers consuming')
    } finally {
      await connection.close()
    }
    const count = 12
    for (let i = 0; i < count; i++) {
      const res = await send(`${base}/v1/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: `mail-${tag}-${i}@example.com`, nickname: `stack${tag}${i}`, password: 'correct horse battery staple' })
      })
      expect(res.status).toBe(201)
    }
    const deadline = Date.now() + 60000
    const ours = (): string[] => received.filter((m) => m.includes(`mail-${tag}-`))
    while (ours().length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200))
    expect(ours().length).toBe(count)
    // Both replicas did part of the work: each logged sending at least one of the mails.
    for (const mailer of ['mailer-1', 'mailer-2']) {
      const sent = stack.output.split('\n').filter((l) => l.startsWith(mailer) && / INFO: mail sent /.test(l))
      expect([mailer, sent.length > 0]).toEqual([mailer, true])
    }
  }, 90000)
})
