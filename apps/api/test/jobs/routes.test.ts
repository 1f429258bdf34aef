import { randomBytes } from 'node:crypto'
import { connect, type Channel, type ChannelModel } from 'amqplib'
import { declareTopology, deleteTopology, topology, type Topology } from '@socialnet/broker'
import { useTestApp } from '../helper'
import { AMQP_URL } from '../mail-queue'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

describe('job routes (api side: accept, publish, report status)', () => {
  const t = useTestApp({ CALLBACK_ALLOW_HOSTS: '127.0.0.1' }, { waitForBroker: true })
  let amqp: ChannelModel
  let channel: Channel
  let names: Topology

  /** Takes the next message from this test's jobs queue, as the worker would receive it. */
  async function nextJobMessage() {
    for (;;) {
      const msg = await channel.get(names.queues.jobs.name, { noAck: true })
      if (msg) return { type: msg.properties.type as string, messageId: msg.properties.messageId as string, persistent: msg.properties.deliveryMode === 2, payload: JSON.parse(msg.content.toString()) }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  const post = (payload: unknown, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url: '/v1/jobs', payload: payload as object, headers })

  // Our own channel on the app's topology, to read the jobs queue as the worker would.
  beforeAll(async () => {
    amqp = await connect(AMQP_URL)
    channel = await amqp.createChannel()
    names = await declareTopology(channel, topology(t.env.config.AMQP_PREFIX))
  })
  afterAll(async () => {
    await deleteTopology(channel, names).catch(() => {})
    await amqp.close()
  })

  test('POST a log job -> 202 {id, status: QUEUED} + Location; the message is in the jobs queue; GET shows QUEUED', async () => {
    const res = await post({ type: 'log', data: { hello: 'world', n: [1, 2] } })
    expect(res.statusCode).toBe(202)
    const { id, status } = res.json()
    expect(id).toMatch(UUID)
    expect(status).toBe('QUEUED')
    expect(res.headers.location).toBe(`/v1/jobs/${id}`)
    expect(await nextJobMessage()).toEqual({ type: 'job.log.v1', messageId: id, persistent: true, payload: { jobId: id, data: { hello: 'world', n: [1, 2] } } })

    const got = await t.app.inject(`/v1/jobs/${id}`)
    expect(got.statusCode).toBe(200)
    expect(got.json()).toEqual({ id, type: 'log', status: 'QUEUED', attempts: 0, createdAt: expect.any(String), updatedAt: expect.any(String) })
  })

  test('callback and email jobs carry their fields to the worker', async () => {
    const cb = await post({ type: 'callback', callbackUrl: 'http://127.0.0.1:9/hook', data: { a: 1 } })
    expect(cb.statusCode).toBe(202)
    expect((await nextJobMessage()).payload).toEqual({ jobId: cb.json().id, callbackUrl: 'http://127.0.0.1:9/hook', data: { a: 1 } })
    const mail = await post({ type: 'email', to: 'ada@example.com', subject: 'Hi', text: 'Hello', html: '<p>Hello</p>' })
    expect(mail.statusCode).toBe(202)
    expect(await nextJobMessage()).toMatchObject({ type: 'job.email.v1', payload: { jobId: mail.json().id, to: 'ada@example.com', subject: 'Hi', text: 'Hello', html: '<p>Hello</p>' } })
  })

  test.each([
    ['unknown type', { type: 'sms', to: 'x' }, /unknown job type "sms"/],
    ['no type', { data: {} }, /type is required/],
    ['not an object', [1, 2], /JSON object/],
    ['log without data', { type: 'log' }, /data: expected required property \(for a log job\)/],
    ['log with data not an object', { type: 'log', data: 'x' }, /data/],
    ['callback without callbackUrl', { type: 'callback', data: {} }, /callbackUrl: expected required property/],
    ['email without subject', { type: 'email', to: 'a@b.co', text: 't' }, /subject/],
    ['email with a bad address', { type: 'email', to: 'not an address', subject: 's', text: 't' }, /to/],
    ['email subject with a line break (header injection)', { type: 'email', to: 'a@b.co', subject: 'a\r\nBcc: x@y.z', text: 't' }, /subject/],
    ['a field of another type', { type: 'log', data: {}, callbackUrl: 'http://x.example/' }, /callbackUrl: unexpected property/],
    ['data nested 1000 deep', { type: 'log', data: JSON.parse('{"a":'.repeat(1000) + '1' + '}'.repeat(1000)) }, /data: nested deeper than 64 levels/],
    ['a NUL in data (jsonb cannot store it)', { type: 'log', data: { note: 'a\u0000b' } }, /data: text must not contain NUL/],
    ['an unpaired surrogate in a data key', { type: 'callback', callbackUrl: 'http://127.0.0.1:9/hook', data: { '\ud800': 1 } }, /data: text must not contain/]
  ])('400 for %s', async (_why, body, message) => {
    const res = await post(body)
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({ error: 'INVALID_JOB', message: expect.stringMatching(message) })
  })

  test.each([
    ['a private address', 'http://10.0.0.7/hook'],
    ['cloud metadata in decimal', 'http://2852039166/latest/meta-data'],
    ['IPv6 loopback', 'http://[::1]:8080/'],
    ['a non-http scheme', 'file:///etc/passwd']
  ])('400 CALLBACK_URL_REFUSED at submit time for %s', async (_why, callbackUrl) => {
    const res = await post({ type: 'callback', callbackUrl })
    expect(res.statusCode).toBe(400)
    expect(res.json().error).toBe('CALLBACK_URL_REFUSED')
  })

  test('broken JSON is a 400, not a 500', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: '{"type":', headers: { 'content-type': 'application/json' } })
    expect(res.statusCode).toBe(400)
  })

  test('GET /v1/jobs/{id}: malformed id -> 400, unknown id -> 404', async () => {
    const bad = await t.app.inject('/v1/jobs/not-a-uuid')
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error).toBe('VALIDATION_FAILED')
    const unknown = await t.app.inject('/v1/jobs/00000000-0000-4000-8000-000000000000')
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json()).toEqual({ error: 'NO_SUCH_JOB', message: expect.any(String) })
  })

  test('Idempotency-Key: a repeated POST returns the same job and publishes nothing new', async () => {
    const key = `order-${randomBytes(4).toString('hex')}`
    const body = { type: 'log', data: { order: 42 } }
    const first = await post(body, { 'idempotency-key': key })
    expect(first.statusCode).toBe(202)
    await nextJobMessage()
    const again = await post(body, { 'idempotency-key': key })
    expect(again.statusCode).toBe(202)
    expect(again.json()).toEqual(first.json())
    expect(again.headers.location).toBe(first.headers.location)
    expect(await channel.checkQueue(names.queues.jobs.name)).toMatchObject({ messageCount: 0 })
    // The same key for a different request is a client bug, not a replay.
    const other = await post({ type: 'log', data: { order: 43 } }, { 'idempotency-key': key })
    expect(other.statusCode).toBe(422)
    expect(other.json().error).toBe('IDEMPOTENCY_KEY_REUSED')
    // Without a key, or with another key, the same body is a new job.
    const fresh = await post(body, { 'idempotency-key': `${key}-2` })
    expect(fresh.json().id).not.toBe(first.json().id)
    await nextJobMessage()
  })

  test('an over-long Idempotency-Key is a 400', async () => {
    const res = await post({ type: 'log', data: {} }, { 'idempotency-key': 'k'.repeat(256) })
    expect(res.statusCode).toBe(400)
  })

  describe("the book's routes", () => {
    test('GET /job/database?client_time= -> 200 {uuid, type: A, extra_data: {client_time}} and a log job', async () => {
      const res = await t.app.inject('/job/database?client_time=1569174071')
      expect(res.statusCode).toBe(200)
      const body = res.json()
      expect(body).toEqual({ uuid: expect.stringMatching(UUID), type: 'A', extra_data: { client_time: '2019-09-22T17:41:11.000Z' } })
      expect(await nextJobMessage()).toMatchObject({ type: 'job.log.v1', payload: { jobId: body.uuid, clientTime: '2019-09-22T17:41:11.000Z' } })
    })

    test.each(['', '?client_time=', '?client_time=yesterday', '?client_time=1.5', '?client_time=99999999999999', '?client_time=1e9'])(
      'GET /job/database%s -> 400, not a crash', async (query) => {
        const res = await t.app.inject(`/job/database${query}`)
        expect(res.statusCode).toBe(400)
        expect(res.json().error).toBe('BAD_CLIENT_TIME')
      })

    test('GET /job/callback and /job/mail -> the book\'s shapes (B and C)', async () => {
      const cb = await t.app.inject('/job/callback')
      expect(cb.json()).toEqual({ uuid: expect.stringMatching(UUID), type: 'B', extra_data: '' })
      await nextJobMessage()
      const mail = await t.app.inject('/job/mail')
      expect(mail.json()).toEqual({ uuid: expect.stringMatching(UUID), type: 'C', extra_data: '' })
      await nextJobMessage()
      const realMail = await t.app.inject('/job/mail?email_address=ada@example.com')
      expect(realMail.json()).toMatchObject({ type: 'C', extra_data: { email_address: 'ada@example.com' } })
      expect(await nextJobMessage()).toMatchObject({ type: 'job.email.v1', payload: { to: 'ada@example.com' } })
      const refused = await t.app.inject('/job/callback?callback_url=http://169.254.169.254/')
      expect(refused.statusCode).toBe(400)
    })

    test('GET /job/status?uuid= -> {ID, Status}; missing or bad uuid -> 400; unknown -> 404', async () => {
      const { uuid } = (await t.app.inject('/job/database?client_time=0')).json()
      await nextJobMessage()
      const res = await t.app.inject(`/job/status?uuid=${uuid}`)
      expect(res.statusCode).toBe(200)
      expect(res.json()).toEqual({ ID: uuid, Status: 'QUEUED' })
      expect((await t.app.inject('/job/status')).statusCode).toBe(400)
      expect((await t.app.inject('/job/status?uuid=../../etc')).statusCode).toBe(400)
      expect((await t.app.inject('/job/status?uuid=00000000-0000-4000-8000-000000000000')).statusCode).toBe(404)
    })
  })

  test('OpenAPI lists the job routes', async () => {
    const doc = (await t.app.inject('/docs/json')).json()
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/jobs', '/v1/jobs/{id}', '/job/database', '/job/status']))
  })
})

describe('job routes while RabbitMQ is unreachable', () => {
  // A port nothing listens on: the broker connection keeps retrying in the background.
  const t = useTestApp({ AMQP_URL: 'amqp://guest:guest@127.0.0.1:1' })

  test('POST /v1/jobs -> 503, never a 202 for a job the broker did not confirm; nothing left behind', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: { type: 'log', data: {} }, headers: { 'idempotency-key': 'k1' } })
    expect(res.statusCode).toBe(503)
    expect(res.json().error).toBe('BROKER_UNAVAILABLE')
    expect(await t.app.redis.keys(`${t.env.config.JOBS_REDIS_PREFIX}*`)).toEqual([])
    const book = await t.app.inject('/job/database?client_time=1569174071')
    expect(book.statusCode).toBe(503)
  })
})
