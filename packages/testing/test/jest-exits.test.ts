import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { WedgedServer } from './wedged-server'

/** Runs a fixture in a jest of its own; `signal` is set only when the bound below had to kill it. */
function runJest(fixture: string, env: Record<string, string>): Promise<{ code: number | null, signal: string | null, output: string }> {
  const config = { preset: '@socialnet/jest-preset', rootDir: join(__dirname, 'fixtures'), roots: ['<rootDir>'], testMatch: [`**/${fixture}`] }
  return new Promise((resolve) => {
    execFile(process.execPath, [require.resolve('jest/bin/jest'), '--config', JSON.stringify(config), '--ci'], {
      cwd: join(__dirname, '..'),
      env: { ...process.env, ...env },
      timeout: 100_000
    }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, signal: err?.signal ?? null, output: stdout + stderr })
    })
  })
}

describe('a test run on a machine whose services stopped answering', () => {
  let wedged: WedgedServer
  beforeAll(async () => { wedged = await WedgedServer.start() })
  afterAll(() => wedged.close())

  it('fails each wait naming the service, and jest exits by itself', async () => {
    const at = `127.0.0.1:${wedged.port}`
    const run = await runJest('wedged-services.fixture.ts', {
      AMQP_URL: `amqp://guest:guest@${at}`,
      RABBITMQ_MANAGEMENT_URL: `http://guest:guest@${at}`,
      REDIS_URL: `redis://${at}`,
      TEST_PG_ADMIN_URL: `postgres://postgres@${at}/postgres`,
      TEST_SERVICE_TIMEOUT_MS: '1000'
    })
    expect(run.signal).toBeNull()
    expect(run.code).toBe(1)
    expect(run.output).toMatch(new RegExp(`cleanup of test\\.wedged\\.[0-9a-z]+\\. left behind: queues \\(RabbitMQ management API at http://${at} did not answer GET /api/queues/%2F within 1 s\\), redis keys \\(Redis at ${at} did not answer within 1 s\\), database \\(PostgreSQL at ${at}: no connection within 1 s\\)`))
    expect(run.output).toContain(`RabbitMQ (AMQP at ${at}) did not complete the AMQP handshake within 1 s`)
    expect(run.output).toContain('Tests:       2 failed, 2 total')
    // Nothing left open: no "Jest did not exit" warning, and no need for the watchdog.
    expect(run.output).not.toContain('did not exit')
    expect(run.output).not.toContain('[jest] still running')
    expect(wedged.openConnections).toBe(0)
  }, 120_000)

  it('ends a run that a leaked socket would hold, naming where the socket goes', async () => {
    const run = await runJest('leaked-socket.fixture.ts', { AMQP_URL: `amqp://guest:guest@127.0.0.1:${wedged.port}`, JEST_EXIT_WATCHDOG_MS: '2000' })
    expect(run.signal).toBeNull()
    expect(run.code).toBe(1)
    expect(run.output).toContain('Tests:       1 passed, 1 total')
    expect(run.output).toContain(`[jest] still running 2 s after the last test (sockets still open to 127.0.0.1:${wedged.port} (RabbitMQ (AMQP))): exiting with a failure instead of holding the run`)
  }, 120_000)
})
