import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import pino from 'pino'
import { Webhook } from 'standardwebhooks'
import { DeadLetterQueue, FAILURE_HEADERS } from '@socialnet/broker'
import type { HostResolver } from '@socialnet/jobs'
import { startReceiver, type Receiver } from './callback/receiver'
import { CALLBACK_SECRET, Harness } from './harness'

const NEW_SECRET = 'whsec_bmV3LXNlY3JldC1mb3Itcm90YXRpb24tMDAwMDAwMDA='

/** Standard Webhooks delivery: retries, 410, Retry-After, DNS and connection failures, rotation, attempts in the status. */
describe('callback jobs as Standard Webhooks (real worker, RabbitMQ, Redis, local HTTP receiver)', () => {
  let h: Harness
  let receiver: Receiver
  const logLines: Array<Record<string, unknown>> = []
  let dnsFailures = 0

  // hooks.test resolves to the receiver's host, except while dnsFailures > 0: then EAI_AGAIN.
  const resolve: HostResolver = async (host) => {
    if (host === 'hooks.test' && dnsFailures > 0) {
      dnsFailures -= 1
      throw Object.assign(new Error(`getaddrinfo EAI_AGAIN ${host}`), { code: 'EAI_AGAIN' })
    }
    return [{ address: '127.0.0.1', family: 4 }]
  }

  beforeAll(async () => {
    receiver = await startReceiver()
    // Retries after 50, 100, 200 ms (less up to 20 % jitter); 2000 ms is there for Retry-After; 4 attempts.
    h = await new Harness({ AMQP_RETRY_DELAYS_MS: '50,100,200,2000', JOBS_MAX_ATTEMPTS: '4', CALLBACK_ALLOW_HOSTS: '127.0.0.1,hooks.test', CALLBACK_SECRET: `${NEW_SECRET},${CALLBACK_SECRET}` }).open()
    await h.startWorker({}, pino({ level: 'info' }, { write: (line: string) => { logLines.push(JSON.parse(line) as Record<string, unknown>) } }), { resolve })
  })
  afterEach(() => { receiver.respond = (_req, res) => { res.end('ok') } })
  afterAll(async () => {
    await h.close()
    await receiver.close()
  })

  const retriesOf = (id: string) => logLines.filter((l) => l.messageId === id && l.msg === 'message failed, retrying later')

  test('secret rotation: both secrets sign; a receiver that has only the new one verifies; webhook-id is the job id on every retry', async () => {
    let calls = 0
    receiver.respond = (_req, res) => { calls += 1; res.statusCode = calls === 1 ? 500 : 200; res.end() }
    const seen = receiver.received.length
    const id = await h.submit('callback', { callbackUrl: `${receiver.url}/rotate`, data: { n: 1 } })
    const doc = await h.waitForStatus(id, 'DONE', 'FAILED')
    expect(doc).toMatchObject({ status: 'DONE', attempts: 2 })
    const [first, second] = receiver.received.slice(seen)
    for (const got of [first!, second!]) {
      expect(got.headers['webhook-id']).toBe(id)
      expect(String(got.headers['webhook-signature']).split(' ')).toHaveLength(2)
      expect(new Webhook(NEW_SECRET).verify(got.body, got.headers as Record<string, string>)).toEqual({ jobId: id, data: { n: 1 } })
      expect(new Webhook(CALLBACK_SECRET).verify(got.body, got.headers as Record<string, string>)).toEqual({ jobId: id, data: { n: 1 } })
    }
    expect(doc.deliveries).toEqual([
      { at: expect.any(String), statusCode: 500, durationMs: expect.any(Number), error: 'callback answered 500' },
      { at: expect.any(String), statusCode: 200, durationMs: expect.any(Number) }
    ])
  })

  test('the retry schedule is followed (shortened): 500 on every attempt -> 4 attempts, waits of 50/100/200 ms less jitter, then FAILED and dead-lettered', async () => {
    receiver.respond = (_req, res) => { res.statusCode = 500; res.end() }
    const seen = receiver.received.length
    const id = await h.submit('callback', { callbackUrl: `${receiver.url}/down` })
    const doc = await h.waitForStatus(id, 'FAILED')
    expect(doc).toMatchObject({ status: 'FAILED', attempts: 4, error: 'callback answered 500' })
    expect(receiver.received.length - seen).toBe(4)
    expect(doc.deliveries!.map((d) => d.statusCode)).toEqual([500, 500, 500, 500])
    const waits = retriesOf(id).map((l) => l.delayMs as number)
    expect(waits).toHaveLength(3)
    ;[50, 100, 200].forEach((base, i) => {
      expect(waits[i]).toBeLessThanOrEqual(base)
      expect(waits[i]).toBeGreaterThanOrEqual(base * 0.8)
    })
    const dead = await h.nextMessage(h.names.queues.jobs.dlq)
    expect(dead.properties.messageId).toBe(id)
    expect(dead.properties.headers).toMatchObject({ [FAILURE_HEADERS.kind]: 'exhausted', [FAILURE_HEADERS.code]: 'CALLBACK_5XX' })
  })

  test('410 Gone stops at once: FAILED after one request, no retry, dead-lettered as permanent', async () => {
    receiver.respond = (_req, res) => { res.statusCode = 410; res.end() }
    const seen = receiver.received.length
    const id = await h.submit('callback', { callbackUrl: `${receiver.url}/gone` })
    const doc = await h.waitForStatus(id, 'FAILED')
    expect(doc).toMatchObject({ attempts: 1, error: 'callback answered 410 (gone); not retried' })
    const dead = await h.nextMessage(h.names.queues.jobs.dlq)
    expect(dead.properties.headers).toMatchObject({ [FAILURE_HEADERS.kind]: 'permanent', [FAILURE_HEADERS.code]: 'CALLBACK_GONE' })
    expect(receiver.received.length - seen).toBe(1)
    expect(retriesOf(id)).toHaveLength(0)
  })

  test('429 with Retry-After: 1 -> the next attempt waits at least a second (not the 50 ms of the schedule)', async () => {
    // When each attempt reached the receiver, taken as it answers (a poller could miss the last one).
    const sentAt: number[] = []
    receiver.respond = (_req, res) => {
      sentAt.push(Date.now())
      if (sentAt.length === 1) res.writeHead(429, { 'retry-after': '1' })
      res.end()
    }
    const id = await h.submit('callback', { callbackUrl: `${receiver.url}/busy` })
    const doc = await h.waitForStatus(id, 'DONE', 'FAILED')
    expect(doc).toMatchObject({ status: 'DONE', attempts: 2 })
    expect(retriesOf(id).map((l) => [l.delayMs, l.code])).toEqual([[1000, 'CALLBACK_429']])
    expect(sentAt[1]! - sentAt[0]!).toBeGreaterThanOrEqual(950)
  })

  test('a DNS lookup that fails once (EAI_AGAIN) is retried, not dead-lettered', async () => {
    dnsFailures = 1
    const id = await h.submit('callback', { callbackUrl: `http://hooks.test:${receiver.port}/dns` })
    const doc = await h.waitForStatus(id, 'DONE', 'FAILED')
    expect(doc).toMatchObject({ status: 'DONE', attempts: 2 })
    expect(doc.deliveries).toEqual([
      { at: expect.any(String), durationMs: expect.any(Number), error: 'CALLBACK_UNREACHABLE: could not reach the callback host' },
      { at: expect.any(String), statusCode: 200, durationMs: expect.any(Number) }
    ])
    expect(retriesOf(id).map((l) => l.code)).toEqual(['CALLBACK_UNREACHABLE'])
  })

  test('a refused connection is retried, and delivered once the receiver listens', async () => {
    // A port that was just free: nothing listens until the first attempt has failed.
    const probe: Server = createServer((_req, res) => res.end('ok'))
    probe.listen(0, '127.0.0.1')
    await once(probe, 'listening')
    const { port } = probe.address() as AddressInfo
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    const id = await h.submit('callback', { callbackUrl: `http://127.0.0.1:${port}/late` })
    for (;;) {
      const doc = await h.store.get(id)
      if (doc?.deliveries?.length) break
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    const late: Server = createServer((_req, res) => res.end('ok'))
    late.listen(port, '127.0.0.1')
    await once(late, 'listening')
    try {
      const doc = await h.waitForStatus(id, 'DONE', 'FAILED')
      expect(doc.status).toBe('DONE')
      expect(doc.deliveries![0]).toEqual({ at: expect.any(String), durationMs: expect.any(Number), error: 'connection failed' })
      expect(doc.deliveries!.at(-1)).toMatchObject({ statusCode: 200 })
      expect(retriesOf(id)[0]).toMatchObject({ code: 'ECONNREFUSED' })
    } finally {
      late.closeAllConnections()
      await new Promise<void>((resolve) => late.close(() => resolve()))
    }
  })

  test('a FAILED job whose dead letter is replayed runs again from attempt 1 and can end DONE', async () => {
    receiver.respond = (_req, res) => { res.statusCode = 410; res.end() }
    const id = await h.submit('callback', { callbackUrl: `${receiver.url}/back-later` })
    await h.waitForStatus(id, 'FAILED')
    const dlq = new DeadLetterQueue(h.connection, 'jobs')
    for (;;) {
      if ((await dlq.list(10)).messages.some((m) => m.messageId === id)) break
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    receiver.respond = (_req, res) => { res.end('ok') }
    expect(await dlq.replay({ messageIds: [id], limit: 10 }, 'test')).toMatchObject({ replayed: 1, notFound: [] })
    const doc = await h.waitForStatus(id, 'DONE')
    expect(doc).toMatchObject({ attempts: 1, result: { callbackStatus: 200 } })
    expect(doc.deliveries!.map((d) => d.statusCode)).toEqual([410, 200])
  })
})
