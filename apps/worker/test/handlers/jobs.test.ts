import pino from 'pino'
import { FAILURE_HEADERS } from '@socialnet/broker'
import { Webhook } from 'standardwebhooks'
import { startReceiver, type Receiver } from '../callback/receiver'
import { CALLBACK_SECRET, Harness } from '../harness'

describe('worker: every job type to DONE, failures to FAILED (real Redis, RabbitMQ, Postgres, HTTP receiver)', () => {
  let h: Harness
  let receiver: Receiver
  /** What the worker logged (JSON lines): where the details hidden from job statuses go. */
  const logLines: string[] = []

  beforeAll(async () => {
    receiver = await startReceiver()
    h = await new Harness().open()
    await h.startWorker({}, pino({ level: 'info' }, { write: (line: string) => { logLines.push(line) } }))
  })
  afterEach(() => { receiver.respond = (_req, res) => { res.end('ok') } })
  afterAll(async () => {
    await h.close()
    await receiver.close()
  })

  test('log: QUEUED -> DONE, the data is in job_log once, owned and counted; a redelivered message changes nothing', async () => {
    const ownerId = await h.createUser()
    const data = { user: 7, tags: ['a', 'b'] }
    const id = await h.submit('log', { data, clientTime: '2019-09-22T17:41:11.000Z', ownerId })
    const doc = await h.waitForStatus(id, 'DONE', 'FAILED')
    expect(doc).toMatchObject({ id, type: 'log', status: 'DONE', attempts: 1, result: { table: 'job_log' } })
    const rows = await h.query('SELECT data, client_time, owner_id FROM job_log WHERE job_id = $1', [id])
    expect(rows).toEqual([{ data, client_time: new Date('2019-09-22T17:41:11.000Z'), owner_id: ownerId }])
    // Bytes are counted as Postgres prints the jsonb: keys sorted, ", " and ": ".
    const usage = [{ row_count: 1, byte_count: '{"tags": ["a", "b"], "user": 7}'.length }]
    expect(await h.query('SELECT row_count::int, byte_count::int FROM job_log_usage WHERE owner_id = $1', [ownerId])).toEqual(usage)

    // The same message again (what a crash after the insert, before the ack, looks like).
    await h.publishJob('log', id, { data, ownerId })
    const marker = await h.submit('log', { data: {} })
    await h.waitForStatus(marker, 'DONE')
    expect(await h.query('SELECT count(*)::int AS n FROM job_log WHERE job_id = $1', [id])).toEqual([{ n: 1 }])
    expect(await h.store.get(id)).toMatchObject({ status: 'DONE', attempts: 1 })
    expect(await h.query('SELECT row_count::int, byte_count::int FROM job_log_usage WHERE owner_id = $1', [ownerId])).toEqual(usage)
  })

  test('log retention: rows older than JOB_LOG_RETENTION_DAYS are deleted by the sweep, newer ones kept, quota given back', async () => {
    const ownerId = await h.createUser()
    const fresh = await h.submit('log', { data: { keep: true }, ownerId })
    const old = await h.submit('log', { data: { old: true }, ownerId })
    await h.waitForStatus(fresh, 'DONE')
    await h.waitForStatus(old, 'DONE')
    // 31 days old by the database's clock (the default retention is 30 days).
    await h.query("UPDATE job_log SET created_at = now() - interval '31 days' WHERE job_id = $1", [old])
    const worker = await h.startWorker()
    expect(await worker.jobLogRetention.sweepNow()).toBeGreaterThanOrEqual(1)
    const left = await h.query<{ job_id: string }>('SELECT job_id FROM job_log WHERE owner_id = $1', [ownerId])
    expect(left.map((r) => r.job_id)).toEqual([fresh])
    expect(await h.query('SELECT row_count::int, byte_count::int FROM job_log_usage WHERE owner_id = $1', [ownerId]))
      .toEqual([{ row_count: 1, byte_count: '{"keep": true}'.length }])
  })

  test('callback: the receiver gets {jobId, data} with a valid Standard Webhooks signature, then DONE', async () => {
    const seen = receiver.received.length
    const id = await h.submit('callback', { callbackUrl: `${receiver.url}/hooks/job?src=test`, data: { answer: 42 } })
    const doc = await h.waitForStatus(id, 'DONE', 'FAILED')
    expect(doc).toMatchObject({ status: 'DONE', result: { callbackStatus: 200 } })
    const got = await receiver.next(seen)
    expect(got.url).toBe('/hooks/job?src=test')
    expect(JSON.parse(got.body)).toEqual({ jobId: id, data: { answer: 42 } })
    expect(got.headers['webhook-id']).toBe(id)
    expect(new Webhook(CALLBACK_SECRET).verify(got.body, got.headers as Record<string, string>)).toEqual({ jobId: id, data: { answer: 42 } })
    expect(() => new Webhook('whsec_bm90LXRoZS1zZWNyZXQtMDEyMzQ1Njc4OWFi').verify(got.body, got.headers as Record<string, string>)).toThrow()
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

  test('callback SSRF end to end: a host resolving to loopback and a name that does not exist read and retry the same, nothing sent', async () => {
    const seen = receiver.received.length
    // Both pass the api's DNS-free check (they are names); the worker's send-time check stops both.
    const internal = await h.submit('callback', { callbackUrl: `http://localhost:${receiver.port}/internal` })
    const unknown = await h.submit('callback', { callbackUrl: `http://no-such-host-${Date.now()}.invalid:${receiver.port}/internal` })
    const docs = [await h.waitForStatus(internal, 'FAILED'), await h.waitForStatus(unknown, 'FAILED')]
    // The submitter cannot tell an internal name from an unknown one: same error, same attempts.
    for (const doc of docs) {
      expect(doc).toMatchObject({ status: 'FAILED', attempts: 3, error: 'CALLBACK_UNREACHABLE: could not reach the callback host' })
      expect((doc.deliveries ?? []).map((d: { error?: string }) => d.error)).toEqual(Array(3).fill(doc.error))
    }
    // What localhost resolves to stays in the worker's log.
    const logged = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).find((e) => e.jobId === internal && e.msg === 'callback failed')
    expect(logged).toMatchObject({ reason: docs[0]!.error, code: 'CALLBACK_UNREACHABLE', detail: expect.stringMatching(/resolves to (127\.0\.0\.1|::1), which is not allowed \(.*loopback/) })
    expect(receiver.received.length).toBe(seen)
    for (let i = 0; i < 2; i++) {
      const dead = await h.nextMessage(h.names.queues.jobs.dlq)
      expect(dead.properties.headers![FAILURE_HEADERS.kind]).toBe('exhausted')
    }
  })

  test('callback: a refused connection shows only "connection failed" (no port scan through job statuses)', async () => {
    const closed = await startReceiver()
    await closed.close()
    const id = await h.submit('callback', { callbackUrl: `${closed.url}/probe` })
    const doc = await h.waitForStatus(id, 'FAILED')
    expect(doc.error).toBe('connection failed')
    const logged = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((e) => e.jobId === id && e.msg === 'callback failed')
    expect(logged[0]).toMatchObject({ detail: expect.stringContaining('ECONNREFUSED') })
    await h.nextMessage(h.names.queues.jobs.dlq)
  })

  test('callback: a redirect is not followed; the job FAILS', async () => {
    receiver.respond = (_req, res) => { res.writeHead(307, { location: 'http://169.254.169.254/latest/meta-data/' }); res.end() }
    const id = await h.submit('callback', { callbackUrl: `${receiver.url}/redirect` })
    expect(await h.waitForStatus(id, 'FAILED')).toMatchObject({ attempts: 1, error: expect.stringContaining('redirects are not followed') })
    await h.nextMessage(h.names.queues.jobs.dlq)
  })

  test('email: HTML is sanitized before it reaches the mail pipeline (no script, on* handler or javascript: link)', async () => {
    const html = '<p onclick="steal()">Hi <b>there</b><script>alert(1)</script><img src=x onerror="alert(2)">' +
      '<a href="javascript:alert(3)">x</a> <a href="https://example.com/ok">ok</a></p><iframe src="https://evil.example"></iframe>'
    const id = await h.submit('email', { to: 'ada@example.com', subject: 'Report', text: 'See', html })
    await h.waitForStatus(id, 'DONE')
    const mail = await h.nextMessage(h.names.queues.mail.name)
    expect(JSON.parse(mail.payload).html).toBe('<p>Hi <b>there</b><a>x</a> <a href="https://example.com/ok">ok</a></p>')
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
