import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { databaseUrl } from '@socialnet/testing'
import { ROOT, RunningStack, dropTestNamespace, kvWriteAuthorization, send, stackPorts, type StackStatus } from './running-stack'

// `npm run stack:restart` under load: the two api replicas behind nginx, and nothing else
// (no mailer or worker: registrations wait in their queue, which goes with the namespace).
const tag = randomBytes(4).toString('hex')
const database = `socialnet_test_restart_${tag}`
const prefix = `test-restart-${tag}.`
const dir = mkdtempSync(join(tmpdir(), 'socialnet-restart-'))
let stack: RunningStack
let status: StackStatus
let base: string
let kvAuth: Record<string, string>

beforeAll(async () => {
  stack = new RunningStack(dir, {
    ...await stackPorts(),
    API_REPLICAS: '2',
    MAILER_REPLICAS: '0',
    WORKER_REPLICAS: '0',
    DATABASE_URL: databaseUrl(database),
    AMQP_PREFIX: prefix,
    SMTP_URL: 'smtp://127.0.0.1:2525',
    RATE_LIMIT_RPS: '0',
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
    await dropTestNamespace(database, prefix)
    rmSync(dir, { recursive: true, force: true })
  }
  expect(code).toBe(0)
}, 90000)

test('a rolling restart (npm run stack:restart) under continuous load fails no request', async () => {
  const key = `restart-${tag}`
  expect((await send(`${base}/v1/key/${key}`, { method: 'PUT', body: 'v', headers: kvAuth })).status).toBe(201)
  const before = status.api
  const outcomes: string[] = []
  let loading = true
  let registrations = 0
  const client = async (): Promise<void> => {
    for (let i = 0; loading; i++) {
      // Reads, idempotent writes, and registrations (POST: nginx never retries those).
      const res = i % 3 === 0
        ? await send(`${base}/v1/key/${key}`, { method: 'PUT', body: 'v', headers: kvAuth })
        : i % 3 === 1
          ? await send(`${base}/v1/users`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ email: `load-${tag}-${registrations}@example.com`, nickname: `load${tag}${registrations++}`, password: 'correct horse battery staple' })
          })
          : await send(`${base}/v1/key/${key}`, { headers: kvAuth })
      outcomes.push(res.status === 200 || res.status === 201 ? 'ok' : `${res.status} ${res.body}`)
    }
  }
  const clients = [1, 2, 3, 4].map(() => client().catch((err: Error) => { outcomes.push(`network error: ${err.message}`) }))
  let restart: { stdout: string }
  try {
    restart = await promisify(execFile)(process.execPath, [join(ROOT, 'scripts/stack-restart.js')], { env: { ...process.env, STACK_DIR: dir }, timeout: 100000 })
  } finally {
    // Also when the restart fails: the load loops would otherwise run past the test.
    loading = false
    await Promise.all(clients)
  }
  expect(restart.stdout).toMatch(/2 api replicas restarted/)
  const failures = outcomes.filter((o) => o !== 'ok')
  expect(failures).toEqual([])
  expect(outcomes.length).toBeGreaterThan(50)
  status = stack.status()
  // New processes on the same ports: nginx's upstream never changed, so it was never reloaded.
  expect(status.api.map((a) => a.port)).toEqual(before.map((a) => a.port))
  expect(status.api.filter((a) => before.some((b) => b.pid === a.pid))).toEqual([])
}, 120000)
