import type { ServerResponse } from 'node:http'
import { spawn } from 'node:child_process'
import { FAILURE_HEADERS } from '@socialnet/broker'
import { startReceiver, type Receiver } from './callback/receiver'
import { Harness, SERVER_JS } from './harness'

describe('worker crashes and restarts (child processes of the built worker)', () => {
  let h: Harness
  let receiver: Receiver
  const held: ServerResponse[] = []

  beforeAll(async () => {
    receiver = await startReceiver()
    h = await new Harness().open()
  })
  afterAll(async () => {
    held.forEach((res) => res.destroy())
    await h.close()
    await receiver.close()
  })

  test('kill -9 mid-job: the job is not stuck IN_PROGRESS; another worker completes it', async () => {
    // The receiver holds the first request open: the worker is mid-job when it dies.
    receiver.respond = (_req, res) => { held.push(res) }
    const first = await h.spawnWorker()
    const seen = receiver.received.length
    const id = await h.submit('callback', { callbackUrl: `${receiver.url}/slow`, data: { n: 1 } })
    await receiver.next(seen)
    expect(await h.store.get(id)).toMatchObject({ status: 'IN_PROGRESS', attempts: 1 })

    first.kill('SIGKILL')
    await new Promise((resolve) => first.once('exit', resolve))
    receiver.respond = (_req, res) => { res.end('ok') }

    // The broker hands the unacked message to the next worker.
    const second = await h.spawnWorker()
    const doc = await h.waitForStatus(id, 'DONE', 'FAILED')
    expect(doc).toMatchObject({ status: 'DONE', attempts: 2, result: { callbackStatus: 200 } })
    // At-least-once: the receiver saw the job twice and can dedupe on webhook-id.
    const deliveries = receiver.received.slice(seen).filter((r) => r.headers['webhook-id'] === id)
    expect(deliveries).toHaveLength(2)
    // Competing consumers: the next test must not share the queue with this worker.
    second.kill('SIGTERM')
    await new Promise((resolve) => second.once('exit', resolve))
  })

  test('SIGTERM mid-job: the job in hand finishes, then the worker exits 0', async () => {
    let release: (() => void) | undefined
    receiver.respond = (_req, res) => { release = () => res.end('ok') }
    const worker = await h.spawnWorker()
    const seen = receiver.received.length
    const id = await h.submit('callback', { callbackUrl: `${receiver.url}/graceful` })
    await receiver.next(seen)
    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)))
    worker.kill('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 100))
    release!()
    expect(await exited).toBe(0)
    expect(worker.output()).toContain('shutting down gracefully')
    expect(await h.store.get(id)).toMatchObject({ status: 'DONE', attempts: 1 })
    receiver.respond = (_req, res) => { res.end('ok') }
  })

  test('a job that took the worker down on every start is FAILED after JOBS_MAX_ATTEMPTS starts, not retried forever', async () => {
    const worker = await h.startWorker()
    const id = await h.submit('log', { data: {} })
    await h.waitForStatus(id, 'DONE')
    // Simulate three earlier starts that each died mid-job (no ack, no status change after STARTED).
    const crashed = '11111111-2222-4333-8444-555555555555'
    for (let i = 0; i < 3; i++) await h.store.started(crashed, 'log')
    await h.publishJob('log', crashed, { data: {} })
    const doc = await h.waitForStatus(crashed, 'FAILED')
    expect(doc).toMatchObject({ attempts: 4, error: expect.stringContaining('without finishing') })
    const dead = await h.nextMessage(h.names.queues.jobs.dlq)
    expect(dead.properties.headers![FAILURE_HEADERS.kind]).toBe('permanent')
    await worker.stop(1000)
  })

  test.each([
    [{ NODE_ENV: 'production', CALLBACK_SECRET: '' }, /CALLBACK_SECRET/],
    [{ CALLBACK_SECRET: 'an-old-hmac-key-0123456789' }, /CALLBACK_SECRET must look like whsec_<base64>/],
    [{ JOBS_PREFETCH: 'many' }, /JOBS_PREFETCH/],
    [{ AMQP_RETRY_DELAYS_MS: '500,100' }, /AMQP_RETRY_DELAYS_MS/]
  ] as Array<[Record<string, string>, RegExp]>)('bad environment %j -> one clear line on stderr, exit 1', async (overrides, message) => {
    const env: Record<string, string | undefined> = { ...process.env, ...h.env, ...overrides }
    if (overrides.CALLBACK_SECRET === '') delete env.CALLBACK_SECRET
    const child = spawn(process.execPath, [SERVER_JS], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr!.on('data', (d: Buffer) => { err += d.toString() })
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(code).toBe(1)
    expect(err.trim().split('\n')).toHaveLength(1)
    expect(err).toMatch(/^worker: invalid environment: /)
    expect(err).toMatch(message)
  })
})
