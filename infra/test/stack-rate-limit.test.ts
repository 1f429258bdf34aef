import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RunningStack, stackPorts } from './running-stack'

// A second, small stack with a low limit: nginx's limit_req answers 429 in the api's error shape.
const dir = mkdtempSync(join(tmpdir(), 'socialnet-stack-rl-'))
let stack: RunningStack
let base: string

beforeAll(async () => {
  stack = new RunningStack(dir, {
    ...await stackPorts(),
    API_REPLICAS: '1',
    MAILER_REPLICAS: '0',
    WORKER_REPLICAS: '0',
    SMTP_URL: 'smtp://127.0.0.1:2525',
    RATE_LIMIT_RPS: '2',
    LOG_LEVEL: 'warn'
  })
  base = (await stack.ready()).http
}, 120000)

afterAll(async () => {
  let code: number | null | undefined
  try {
    code = await stack?.stop()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  expect(code).toBe(0)
}, 60000)

test('over RATE_LIMIT_RPS (burst 2x) per client IP, nginx answers 429 with Retry-After', async () => {
  const answers = await Promise.all(Array.from({ length: 30 }, () => fetch(`${base}/health`).then(async (res) => ({
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    body: await res.text()
  }))))
  const limited = answers.filter((a) => a.status === 429)
  expect(answers.filter((a) => a.status === 200).length).toBeGreaterThan(0)
  expect(limited.length).toBeGreaterThan(0)
  expect(limited[0]!.retryAfter).toBe('1')
  expect(JSON.parse(limited[0]!.body).error).toBe('RATE_LIMITED')
})
