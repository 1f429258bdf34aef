import { FAILURE_HEADERS } from '@socialnet/broker'
import { verifyCallbackSignature } from '../src/callback/signature'
import { startReceiver, type Receiver } from './callback/receiver'
import { CALLBACK_SECRET, Harness } from './harness'

describe('worker: every job type to DONE, failures to FAILED (real Redis, RabbitMQ, Postgres, HTTP receiver)', () => {
  let h: Harness
  let receiver: Receiver

  beforeAll(async () => {
    receiver = await startReceiver()
    h = await new Harness().open()
    await h.startWorker()
  })
  afterEach(() => { receiver.respond = (_req, res) => { res.end('ok') } })
  afterAll(async () => {
    await h.close()
    await receiver.close()
  })

  test('log: QUEUED -> DONE, the data is in job_log once, a redelivered message changes nothing', async () => {
    const id = await h.submit('log', { data: { user: 7, tags: ['a', 'b'] }, clientTime: '2019-09-22T17:41:11.000Z' })
    const doc = await h.waitForStatus(id, 'DONE', 'FAILED')
    expect(doc).toMatchObject({ id, type: 'log', status: 'DONE', attempts: 1, result: { table: 'job_log' } })
    const rows = await h.query('SELECT data, client_time FROM job_log WHERE job_id = $1', [id])
    expect(rows).toEqual([{ data: { user: 7, tags: ['a', 'b'] }, client_time: new Date('2019-09-22T17:41:11.000Z') }])

    // The same message again (what a crash after the insert, before the ack, looks like).
    await h.publishJob('log', id, { data: { user: 7, tags: ['a', 'b'] } })
    const marker = await h.submit('log', { data: {} })
    await h.waitForStatus(marker, 'DONE')
    expect(await h.query('SELECT count(*)::int AS n FROM job_log WHERE job_id = $1', [id])).toEqual([{ n: 1 }])
    expect(await h.store.get(id)).toMatchObject({ status: 'DONE', attempts: 1 })
  })

  test('callback: the receiver gets {jobId, data} with a valid HMAC signature, then DONE', async () => {
    const seen = receiver.received.length
    const id = await h.submit('callback', { callbackUrl: `${receiver.url}/hooks/job?src=test`, data: { answer: 42 } })
    const doc = await h.waitForStatus(id, 'DONE', 'FAILED')
    expect(doc).toMatchObject({ status: 'DONE', result: { callbackStatus: 200 } })
    const got = await receiver.next(seen)
    expect(got.url).toBe('/hooks/job?src=test')
    expect(JSON.parse(got.body)).toEqual({ jobId: id, data: { answer: 42 } })
    expect(got.headers['x-job-id']).toBe(id)
    expect(verifyCallbackSignature(CALLBACK_SECRET, got.headers['x-signature'] as string, got.body)).toBe(true)
    expect(verifyCallbackSignature('not-the-secret-000000', got.headers['x-signature'] as string, got.body)).toBe(false)
  })

  test('callback: a 5xx is retried with backoff and the job is DONE once the receiver recovers', async () => {
    let calls = 0
    receiver.respond = (_req, res) => { calls += 1; res.statusCode = calls === 1 ? 503 : 204; res.end() }
    const id = await h.submit('callback', { callbackUrl: `${receiver.url}/flaky` })
    const doc = await h.waitForStatus(id, 'DONE', 'FAILED')
    expect(doc).toMatchObject({ status: 'DONE', attempts: 2, result: { callbackStatus: 204 } })
    expect(doc.error).toBeUndefined()
  })

  test('callback: a receiver that keeps failing -> FAILED after JOBS_MAX_ATTEMPTS, message in the DLQ', async () => {
    receiver.respond = (_req, res) => { res.statusCode = 500; res.end() }
    const id = await h.submit('callback', { callbackUrl: `${receiver.url}/down` })
    const doc = await h.waitForStatus(id, 'FAILED')
    expect(doc).toMatchObject({ status: 'FAILED', attempts: 3, error: 'callback answered 500' })
    const dead = await h.nextMessage(h.names.queues.jobs.dlq)
    expect(dead.properties.messageId).toBe(id)
    expect(dead.properties.headers![FAILURE_HEADERS.kind]).toBe('exhausted')
  })

  test('callback SSRF end to end: a host resolving to loopback (not allow-listed) -> FAILED at once, nothing sent', async () => {
    const seen = receiver.received.length
    // Passes the api's DNS-free check (it is a name), refused by the worker's send-time check.
    const id = await h.submit('callback', { callbackUrl: `http://localhost:${receiver.port}/internal` })
    const doc = await h.waitForStatus(id, 'FAILED')
    expect(doc).toMatchObject({ attempts: 1, error: expect.stringMatching(/resolves to (127\.0\.0\.1|::1), which is not allowed \(.*loopback/) })
    expect(receiver.received.length).toBe(seen)
    const dead = await h.nextMessage(h.names.queues.jobs.dlq)
    expect(dead.properties.headers![FAILURE_HEADERS.kind]).toBe('permanent')
  })

  test('callback: a redirect is not followed; the job FAILS', async () => {
    receiver.respond = (_req, res) => { res.writeHead(307, { location: 'http://169.254.169.254/latest/meta-data/' }); res.end() }
    const id = await h.submit('callback', { callbackUrl: `${receiver.url}/redirect` })
    expect(await h.waitForStatus(id, 'FAILED')).toMatchObject({ attempts: 1, error: expect.stringContaining('redirects are not followed') })
    await h.nextMessage(h.names.queues.jobs.dlq)
  })

  test('email: handed to the mail pipeline as mail.send.v1 (messageId = job id), then DONE', async () => {
    const id = await h.submit('email', { to: 'ada@example.com', subject: 'Report ready', text: 'See attachment', html: '<p>See</p>' })
    const doc = await h.waitForStatus(id, 'DONE', 'FAILED')
    expect(doc).toMatchObject({ status: 'DONE', attempts: 1 })
    const mail = await h.nextMessage(h.names.queues.mail.name)
    expect(mail.properties).toMatchObject({ type: 'mail.send.v1', messageId: id, contentType: 'application/json', deliveryMode: 2 })
    expect(JSON.parse(mail.payload)).toEqual({ to: 'ada@example.com', subject: 'Report ready', text: 'See attachment', html: '<p>See</p>', jobId: id })
  })

  test.each([
    ['not JSON', 'job.log.v1', '{"jobId":'],
    ['wrong shape', 'job.log.v1', JSON.stringify({ jobId: 'nope', data: 1 })],
    ['unknown type', 'job.teleport.v1', JSON.stringify({ jobId: 'x' })],
    ['a message type that belongs to another queue', 'mail.send.v1', JSON.stringify({ to: 'a@b.co', subject: 's', text: 't' })]
  ])('poison message (%s) -> dead-lettered at once with the reason; the worker keeps going', async (_why, type, body) => {
    const messageId = `poison-${Math.random()}`
    h.channel.sendToQueue(h.names.queues.jobs.name, Buffer.from(body), { messageId, type, contentType: 'application/json', persistent: true })
    const dead = await h.nextMessage(h.names.queues.jobs.dlq)
    expect(dead.properties.messageId).toBe(messageId)
    expect(dead.properties.headers![FAILURE_HEADERS.kind]).toBe('malformed')
    expect(String(dead.properties.headers![FAILURE_HEADERS.reason]).length).toBeGreaterThan(0)
    const after = await h.submit('log', { data: { still: 'working' } })
    await h.waitForStatus(after, 'DONE')
  })
})
