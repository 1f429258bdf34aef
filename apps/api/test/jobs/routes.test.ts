import { randomBytes } from 'node:crypto'
import type { Channel, ChannelModel } from 'amqplib'
import { declareTopology, deleteTopology, topology, type Topology } from '@socialnet/broker'
import type { FastifyInstance } from 'fastify'
import { connectAmqp } from '@socialnet/testing'
import { useTestApp } from '../helper'
import { AMQP_URL } from '../mail-queue'
import { signUp, signUpVerified, verifyEmail, type TestAccount } from '../accounts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const verify = verifyEmail

/** Gives the account the admin role (what `npm run admin -- promote` does); its session is not renewed. */
async function promote(app: FastifyInstance, account: TestAccount): Promise<void> {
  await app.db.query("UPDATE users SET role = 'admin' WHERE id = $1", [account.id])
}

describe('job routes (api side: accept, publish, report status)', () => {
  // The per-user rates are tested on their own below; here they would only get in the way.
  const t = useTestApp({ CALLBACK_ALLOW_HOSTS: '127.0.0.1', JOB_RATE_PER_MINUTE: '0', JOB_EMAIL_RATE_PER_HOUR: '0' }, { waitForBroker: true })
  let amqp: ChannelModel
  let channel: Channel
  let names: Topology
  /** The signed-in user every request of this block is made as (address verified). */
  let alice: TestAccount

  /** Takes the next message from this test's jobs queue, as the worker would receive it. */
  async function nextJobMessage() {
    for (;;) {
      const msg = await channel.get(names.queues.jobs.name, { noAck: true })
      if (msg) return { type: msg.properties.type as string, messageId: msg.properties.messageId as string, persistent: msg.properties.deliveryMode === 2, payload: JSON.parse(msg.content.toString()) }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  const post = (payload: unknown, headers: Record<string, string> = {}, as: TestAccount = alice) =>
    t.app.inject({ method: 'POST', url: '/v1/jobs', payload: payload as object, headers: { ...as.auth, ...headers } })
  const get = (url: string, as: TestAccount = alice) => t.app.inject({ url, headers: as.auth })

  // Our own channel on the app's topology, to read the jobs queue as the worker would.
  beforeAll(async () => {
    amqp = await connectAmqp(AMQP_URL)
    channel = await amqp.createChannel()
    names = await declareTopology(channel, topology(t.env.config.AMQP_PREFIX))
    alice = await signUp(t.app, 'alice')
    await verify(t.app, alice)
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
    // The owner travels with a log job: the worker counts the row against alice's quota.
    expect(await nextJobMessage()).toEqual({ type: 'job.log.v1', messageId: id, persistent: true, payload: { jobId: id, data: { hello: 'world', n: [1, 2] }, ownerId: alice.id } })

    const got = await get(`/v1/jobs/${id}`)
    expect(got.statusCode).toBe(200)
    expect(got.json()).toEqual({ id, type: 'log', status: 'QUEUED', attempts: 0, createdAt: expect.any(String), updatedAt: expect.any(String) })
  })

  test('callback and email jobs carry their fields to the worker', async () => {
    const cb = await post({ type: 'callback', callbackUrl: 'http://127.0.0.1:9/hook', data: { a: 1 } })
    expect(cb.statusCode).toBe(202)
    expect((await nextJobMessage()).payload).toEqual({ jobId: cb.json().id, callbackUrl: 'http://127.0.0.1:9/hook', data: { a: 1 } })
    const mail = await post({ type: 'email', to: alice.email, subject: 'Hi', text: 'Hello', html: '<p>Hello</p>' })
    expect(mail.statusCode).toBe(202)
    expect(await nextJobMessage()).toMatchObject({ type: 'job.email.v1', payload: { jobId: mail.json().id, to: alice.email, subject: 'Hi', text: 'Hello', html: '<p>Hello</p>' } })
  })

  test.each([
    ['unknown type', { type: 'sms', to: 'x' }, /unknown job type "sms"/],
    ['no type', { data: {} }, /type is required/],
    ['not an object', [1, 2], /JSON object/],
    ['log without data', { type: 'log' }, /data: expected required property \(for a log job\)/],
    ['log with data not an object', { type: 'log', data: 'x' }, /data/],
    ['callback without callbackUrl', { type: 'callback', data: {} }, /callbackUrl: expected required property/],
    ['email without subject', { type: 'email', to: 'a@b.co', text: 't' }, /subject/],
    ['email with two fields wrong: both are named', { type: 'email', to: 'a@b.co', subject: 7 }, /^(?=.*subject: expected string)(?=.*text: expected required property)/],
    ['email with a bad address', { type: 'email', to: 'not an address', subject: 's', text: 't' }, /to/],
    ['email to an IP-literal domain', { type: 'email', to: 'x@127.0.0.1', subject: 's', text: 't' }, /to/],
    ['email with a % route in the address', { type: 'email', to: 'a%evil.com@example.com', subject: 's', text: 't' }, /to/],
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
    const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: '{"type":', headers: { 'content-type': 'application/json', ...alice.auth } })
    expect(res.statusCode).toBe(400)
  })

  test('GET /v1/jobs/{id}: malformed id -> 400, unknown id -> 404', async () => {
    const bad = await get('/v1/jobs/not-a-uuid')
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error).toBe('VALIDATION_FAILED')
    const unknown = await get('/v1/jobs/00000000-0000-4000-8000-000000000000')
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
      const res = await get('/job/database?client_time=1569174071')
      expect(res.statusCode).toBe(200)
      const body = res.json()
      expect(body).toEqual({ uuid: expect.stringMatching(UUID), type: 'A', extra_data: { client_time: '2019-09-22T17:41:11.000Z' } })
      expect(await nextJobMessage()).toMatchObject({ type: 'job.log.v1', payload: { jobId: body.uuid, clientTime: '2019-09-22T17:41:11.000Z' } })
    })

    test.each(['', '?client_time=', '?client_time=yesterday', '?client_time=1.5', '?client_time=99999999999999', '?client_time=1e9'])(
      'GET /job/database%s -> 400, not a crash', async (query) => {
        const res = await get(`/job/database${query}`)
        expect(res.statusCode).toBe(400)
        expect(res.json().error).toBe('BAD_CLIENT_TIME')
      })

    test('GET /job/callback and /job/mail -> the book\'s shapes (B and C)', async () => {
      const cb = await get('/job/callback')
      expect(cb.json()).toEqual({ uuid: expect.stringMatching(UUID), type: 'B', extra_data: '' })
      await nextJobMessage()
      const mail = await get('/job/mail')
      expect(mail.json()).toEqual({ uuid: expect.stringMatching(UUID), type: 'C', extra_data: '' })
      await nextJobMessage()
      const realMail = await get(`/job/mail?email_address=${alice.email}`)
      expect(realMail.json()).toMatchObject({ type: 'C', extra_data: { email_address: alice.email } })
      expect(await nextJobMessage()).toMatchObject({ type: 'job.email.v1', payload: { to: alice.email } })
      const refused = await get('/job/callback?callback_url=http://169.254.169.254/')
      expect(refused.statusCode).toBe(400)
    })

    test('GET /job/status?uuid= -> {ID, Status}; missing or bad uuid -> 400; unknown -> 404', async () => {
      const { uuid } = (await get('/job/database?client_time=0')).json()
      await nextJobMessage()
      const res = await get(`/job/status?uuid=${uuid}`)
      expect(res.statusCode).toBe(200)
      expect(res.json()).toEqual({ ID: uuid, Status: 'QUEUED' })
      expect((await get('/job/status')).statusCode).toBe(400)
      expect((await get('/job/status?uuid=../../etc')).statusCode).toBe(400)
      expect((await get('/job/status?uuid=00000000-0000-4000-8000-000000000000')).statusCode).toBe(404)
    })
  })

  describe('who may submit and see what', () => {
    test.each([
      ['POST', '/v1/jobs'],
      ['GET', '/v1/jobs/00000000-0000-4000-8000-000000000000'],
      ['GET', '/job/database?client_time=1569174071'],
      ['GET', '/job/callback'],
      ['GET', '/job/mail?email_address=ada@example.com'],
      ['GET', '/job/status?uuid=00000000-0000-4000-8000-000000000000']
    ] as const)('%s %s without a session -> 401, nothing queued', async (method, url) => {
      const res = await t.app.inject({ method, url, payload: method === 'POST' ? { type: 'email', to: 'ada@example.com', subject: 's', text: 't' } : undefined })
      expect(res.statusCode).toBe(401)
      expect(res.json()).toEqual({ error: 'UNAUTHORIZED', message: expect.any(String) })
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/)
      const forged = await t.app.inject({ method, url, headers: { authorization: 'Bearer ' + 'x'.repeat(43) } })
      expect(forged.statusCode).toBe(401)
      expect(await channel.checkQueue(names.queues.jobs.name)).toMatchObject({ messageCount: 0 })
    })

    test("someone else's job is a 404 exactly like an unknown id, on both status routes", async () => {
      const mallory = await signUpVerified(t.app)
      const { id } = (await post({ type: 'log', data: { secret: 1 } })).json()
      await nextJobMessage()
      const unknown = await get('/v1/jobs/00000000-0000-4000-8000-000000000000', mallory)
      const theirs = await get(`/v1/jobs/${id}`, mallory)
      expect(theirs.statusCode).toBe(404)
      expect(theirs.json()).toEqual(unknown.json())
      const book = await get(`/job/status?uuid=${id}`, mallory)
      expect(book.statusCode).toBe(404)
      expect(book.json()).toEqual(unknown.json())
      expect((await get(`/v1/jobs/${id}`)).statusCode).toBe(200)
    })

    test('Idempotency-Key is per user: the same key from another user is a new job of theirs', async () => {
      const bob = await signUpVerified(t.app)
      const key = `shared-${randomBytes(4).toString('hex')}`
      const body = { type: 'log', data: { n: 1 } }
      const first = await post(body, { 'idempotency-key': key })
      await nextJobMessage()
      const other = await post(body, { 'idempotency-key': key }, bob)
      expect(other.statusCode).toBe(202)
      expect(other.json().id).not.toBe(first.json().id)
      expect((await nextJobMessage()).payload.ownerId).toBe(bob.id)
      expect((await get(`/v1/jobs/${other.json().id}`, bob)).statusCode).toBe(200)
    })

    test('an email job to an address not your own -> 403, on POST /v1/jobs and on /job/mail; nothing queued', async () => {
      const res = await post({ type: 'email', to: 'stranger@example.net', subject: 'Buy now', text: 'spam' })
      expect(res.statusCode).toBe(403)
      expect(res.json()).toEqual({ error: 'EMAIL_RECIPIENT_NOT_ALLOWED', message: expect.stringContaining('your own address') })
      const book = await get('/job/mail?email_address=stranger@example.net')
      expect(book.statusCode).toBe(403)
      expect(book.json().error).toBe('EMAIL_RECIPIENT_NOT_ALLOWED')
      expect(await channel.checkQueue(names.queues.jobs.name)).toMatchObject({ messageCount: 0 })
    })

    test('an email job to your own address before it is verified -> 403 EMAIL_NOT_VERIFIED', async () => {
      const fresh = await signUp(t.app)
      const res = await post({ type: 'email', to: fresh.email, subject: 'Hi me', text: 'note to self' }, {}, fresh)
      expect(res.statusCode).toBe(403)
      expect(res.json()).toEqual({ error: 'EMAIL_NOT_VERIFIED', message: expect.stringContaining('verify') })
      // Verified later, the same session may send: the check reads Postgres, not the session.
      await verify(t.app, fresh)
      const upper = fresh.email.toUpperCase()
      expect((await post({ type: 'email', to: upper, subject: 'Hi me', text: 'note to self' }, {}, fresh)).statusCode).toBe(202)
      expect((await nextJobMessage()).payload.to).toBe(upper)
    })

    test('an admin may send an email job to any address (role read at submit time, no new login needed)', async () => {
      const admin = await signUp(t.app)
      expect((await post({ type: 'email', to: 'anyone@example.org', subject: 'Notice', text: 'hello' }, {}, admin)).statusCode).toBe(403)
      await promote(t.app, admin)
      const res = await post({ type: 'email', to: 'anyone@example.org', subject: 'Notice', text: 'hello' }, {}, admin)
      expect(res.statusCode).toBe(202)
      expect(await nextJobMessage()).toMatchObject({ type: 'job.email.v1', payload: { to: 'anyone@example.org' } })
    })
  })

  test('OpenAPI lists the job routes', async () => {
    const doc = (await t.app.inject('/docs/json')).json()
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/jobs', '/v1/jobs/{id}', '/job/database', '/job/status']))
  })
})

describe('job routes: per-user rate and log quota', () => {
  const t = useTestApp({ JOB_RATE_PER_MINUTE: '3', JOB_EMAIL_RATE_PER_HOUR: '1', JOB_LOG_QUOTA_BYTES: '2048' }, { waitForBroker: true })
  const post = (as: TestAccount, payload: object) => t.app.inject({ method: 'POST', url: '/v1/jobs', payload, headers: as.auth })

  test('past JOB_RATE_PER_MINUTE -> 429 with Retry-After, counted per user (not per session, not for others)', async () => {
    const carol = await signUpVerified(t.app)
    for (let i = 0; i < 3; i++) expect((await post(carol, { type: 'log', data: { i } })).statusCode).toBe(202)
    const refused = await post(carol, { type: 'log', data: { i: 3 } })
    expect(refused.statusCode).toBe(429)
    expect(refused.json()).toEqual({ error: 'JOB_RATE_LIMITED', message: expect.stringContaining('3 jobs per minute') })
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60)
    // The book's routes count too, and a fresh login is the same user.
    expect((await t.app.inject({ url: '/job/database?client_time=0', headers: carol.auth })).statusCode).toBe(429)
    const again = await t.app.inject({ method: 'POST', url: '/v1/sessions', payload: { login: carol.nickname, password: carol.password } })
    expect((await post({ ...carol, auth: { authorization: `Bearer ${again.json().token}` } }, { type: 'log', data: {} })).statusCode).toBe(429)
    const dave = await signUpVerified(t.app)
    expect((await post(dave, { type: 'log', data: {} })).statusCode).toBe(202)
  })

  test('an Idempotency-Key replay is the same job, not a new one: it costs no rate', async () => {
    const gina = await signUpVerified(t.app)
    const replay = () => t.app.inject({ method: 'POST', url: '/v1/jobs', payload: { type: 'log', data: { once: true } }, headers: { ...gina.auth, 'idempotency-key': 'report-1' } })
    const first = await replay()
    for (let i = 0; i < 4; i++) expect((await replay()).json().id).toBe(first.json().id)
    expect((await post(gina, { type: 'log', data: { n: 2 } })).statusCode).toBe(202)
    expect((await post(gina, { type: 'log', data: { n: 3 } })).statusCode).toBe(202)
    expect((await post(gina, { type: 'log', data: { n: 4 } })).statusCode).toBe(429)
  })

  test('email jobs have their own, smaller rate (JOB_EMAIL_RATE_PER_HOUR) -> 429 with Retry-After', async () => {
    const erin = await signUpVerified(t.app)
    const mail = { type: 'email', to: erin.email, subject: 'Reminder', text: 'water the plants' }
    expect((await post(erin, mail)).statusCode).toBe(202)
    const refused = await post(erin, mail)
    expect(refused.statusCode).toBe(429)
    expect(refused.json().message).toContain('1 email jobs per hour')
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(60)
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(3600)
    expect((await post(erin, { type: 'log', data: {} })).statusCode).toBe(202)
  })

  test('a log job that would pass JOB_LOG_QUOTA_BYTES of kept data -> 429 JOB_LOG_QUOTA_EXCEEDED', async () => {
    const frank = await signUpVerified(t.app)
    // What the worker writes for frank's earlier jobs: 1,500 bytes ('{"note": "…"}') of the 2,048 he may keep.
    await t.app.db.query('INSERT INTO job_log (job_id, data, owner_id) VALUES (gen_random_uuid(), $1, $2)', [{ note: 'x'.repeat(1488) }, frank.id])
    expect((await post(frank, { type: 'log', data: { small: 'y'.repeat(100) } })).statusCode).toBe(202)
    const refused = await post(frank, { type: 'log', data: { big: 'z'.repeat(600) } })
    expect(refused.statusCode).toBe(429)
    expect(refused.json()).toEqual({ error: 'JOB_LOG_QUOTA_EXCEEDED', message: expect.stringMatching(/keep 1500 bytes .* 2048 bytes/) })
    // Callback and email jobs keep nothing in job_log: the quota does not stop them.
    expect((await post(frank, { type: 'callback', callbackUrl: 'https://example.com/hook' })).statusCode).toBe(202)
  })
})

describe('job routes: who may keep data in job_log, and how much in all', () => {
  const t = useTestApp({ JOB_RATE_PER_MINUTE: '0', JOB_LOG_MAX_TOTAL_BYTES: '4096', JOB_LOG_TOTAL_REFRESH_MS: '0' }, { waitForBroker: true })
  const post = (as: TestAccount, payload: unknown) => t.app.inject({ method: 'POST', url: '/v1/jobs', payload: payload as object, headers: as.auth })

  test('a log job from an unverified account -> 403 EMAIL_NOT_VERIFIED on both APIs; once verified -> 202', async () => {
    const fresh = await signUp(t.app)
    const refused = await post(fresh, { type: 'log', data: { n: 1 } })
    expect(refused.statusCode).toBe(403)
    expect(refused.json()).toEqual({ error: 'EMAIL_NOT_VERIFIED', message: expect.stringContaining('log jobs keep data') })
    const book = await t.app.inject({ url: '/job/database?client_time=1569174071', headers: fresh.auth })
    expect(book.statusCode).toBe(403)
    expect(book.json().error).toBe('EMAIL_NOT_VERIFIED')
    // Jobs that keep nothing are not stopped by it.
    expect((await post(fresh, { type: 'callback', callbackUrl: 'https://example.com/hook' })).statusCode).toBe(202)
    await verifyEmail(t.app, fresh)
    expect((await post(fresh, { type: 'log', data: { n: 1 } })).statusCode).toBe(202)
  })

  test('past JOB_LOG_MAX_TOTAL_BYTES kept by all users together -> 507 JOB_LOG_FULL, for a user well inside their own quota', async () => {
    // Two other accounts keep ~3,900 bytes between them, each far under the per-user quota.
    const [one, two, me] = [await signUpVerified(t.app), await signUpVerified(t.app), await signUpVerified(t.app)]
    for (const owner of [one, two]) {
      await t.app.db.query('INSERT INTO job_log (job_id, data, owner_id) VALUES (gen_random_uuid(), $1, $2)', [{ note: 'x'.repeat(1950) }, owner.id])
    }
    const refused = await post(me, { type: 'log', data: { text: 'y'.repeat(300) } })
    expect(refused.statusCode).toBe(507)
    expect(refused.json()).toEqual({ error: 'JOB_LOG_FULL', message: expect.stringContaining('JOB_LOG_MAX_TOTAL_BYTES = 4096') })
    expect((await post(me, { type: 'callback', callbackUrl: 'https://example.com/hook' })).statusCode).toBe(202)
    // Room again once rows go (the retention sweep): accepted.
    await t.app.db.query('DELETE FROM job_log WHERE owner_id = $1', [one.id])
    expect((await post(me, { type: 'log', data: { text: 'y'.repeat(300) } })).statusCode).toBe(202)
  })
})

describe('job routes: the log quota between two reads of what a user keeps (JOB_LOG_TOTAL_REFRESH_MS)', () => {
  const t = useTestApp({ JOB_RATE_PER_MINUTE: '0', JOB_LOG_QUOTA_BYTES: '2048', JOB_LOG_TOTAL_REFRESH_MS: '60000' }, { waitForBroker: true })
  const post = (as: TestAccount, payload: object) => t.app.inject({ method: 'POST', url: '/v1/jobs', payload, headers: as.auth })

  test('jobs accepted since the last read count against the quota before the worker writes them', async () => {
    const hank = await signUpVerified(t.app)
    // Nothing in job_log yet (no worker runs here): each job is ~1,000 bytes of the 2,048.
    expect((await post(hank, { type: 'log', data: { n: 'x'.repeat(990) } })).statusCode).toBe(202)
    expect((await post(hank, { type: 'log', data: { n: 'x'.repeat(990) } })).statusCode).toBe(202)
    const refused = await post(hank, { type: 'log', data: { n: 'x'.repeat(990) } })
    expect(refused.statusCode).toBe(429)
    expect(refused.json()).toEqual({ error: 'JOB_LOG_QUOTA_EXCEEDED', message: expect.stringMatching(/keep 0 bytes .* 2048 bytes/) })
    // Counted per user: another account's room is untouched.
    expect((await post(await signUpVerified(t.app), { type: 'log', data: { n: 'x'.repeat(990) } })).statusCode).toBe(202)
  })

  test('a verification counts at the next submission: an unverified account is not remembered', async () => {
    const fresh = await signUp(t.app)
    expect((await post(fresh, { type: 'log', data: { n: 1 } })).statusCode).toBe(403)
    await verifyEmail(t.app, fresh)
    expect((await post(fresh, { type: 'log', data: { n: 1 } })).statusCode).toBe(202)
  })
})

describe('job routes while RabbitMQ is unreachable', () => {
  // A port nothing listens on: the broker connection keeps retrying in the background.
  const t = useTestApp({ AMQP_URL: 'amqp://guest:guest@127.0.0.1:1' })

  test('POST /v1/jobs -> 503, never a 202 for a job the broker did not confirm; nothing left behind', async () => {
    const grace = await signUpVerified(t.app)
    const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: { type: 'log', data: {} }, headers: { 'idempotency-key': 'k1', ...grace.auth } })
    expect(res.statusCode).toBe(503)
    expect(res.json().error).toBe('BROKER_UNAVAILABLE')
    // Only the rate counter remains: no job status, no claimed key.
    expect(await t.app.redis.keys(`${t.env.config.JOBS_REDIS_PREFIX}*`)).toEqual([`${t.env.config.JOBS_REDIS_PREFIX}rate:jobs:${grace.id}`])
    const book = await t.app.inject({ url: '/job/database?client_time=1569174071', headers: grace.auth })
    expect(book.statusCode).toBe(503)
  })
})
