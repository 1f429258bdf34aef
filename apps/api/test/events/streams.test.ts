import Redis from 'ioredis'
import { BrokerConnection, EventPublisher } from '@socialnet/broker'
import { JobStatusStore, jobStatusEvent } from '@socialnet/jobs'
import { useTestApp } from '../helper'
import { signUpVerified as signUp } from '../accounts'
import { promoteToAdmin } from '../../src/users/repository'
import { SseClient } from './sse-client'
import { redisBounds } from '@socialnet/testing'

describe('event streams (SSE)', () => {
  const t = useTestApp({ JOB_RATE_PER_MINUTE: '0' }, { waitForBroker: true })
  const opened: SseClient[] = []
  const open = async (path: string, headers: Record<string, string> = {}) => {
    const result = await SseClient.open(t.app, path, headers)
    opened.push(result.client)
    return result
  }
  beforeAll(async () => { await t.app.listen({ port: 0, host: '127.0.0.1' }) })
  afterEach(() => { for (const client of opened.splice(0)) client.close() })

  const submitLog = async (auth: Record<string, string>): Promise<string> => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: { type: 'log', data: { n: 1 } } })
    expect(res.statusCode).toBe(202)
    return res.json().id as string
  }

  /** The worker's side of a job stream: its own connection, event publisher and Redis client, closed after `use`. */
  const workerSide = async (use: (side: { events: EventPublisher; redis: Redis }) => Promise<void>): Promise<void> => {
    const connection = new BrokerConnection({ url: t.env.config.AMQP_URL, prefix: t.env.config.AMQP_PREFIX, name: 'test-worker', ownsTopology: false })
    const events = new EventPublisher(connection, { service: 'worker', replica: 'worker-test' })
    const redis = new Redis(t.env.config.REDIS_URL, redisBounds())
    try {
      await connection.connect()
      await use({ events, redis })
    } finally {
      await events.close()
      await connection.close()
      await redis.quit()
    }
  }

  test('admin stream: 401 without a token, 403 for a user; an admin sees a registration, its outbox publish, and queue.stats', async () => {
    expect((await open('/v1/admin/events')).status).toBe(401)
    const user = await signUp(t.app)
    const refused = await open('/v1/admin/events', user.auth)
    expect(refused.status).toBe(403)
    expect(refused.body).toEqual({ error: 'FORBIDDEN', message: expect.any(String) })

    const admin = await signUp(t.app)
    await promoteToAdmin(t.app.db, admin.email)
    const { status, client } = await open('/v1/admin/events', admin.auth)
    expect(status).toBe(200)
    expect(client.response.headers['content-type']).toMatch(/^text\/event-stream/)

    const newcomer = await signUp(t.app)
    const registered = await client.next((e) => e.event === 'user.registered' && e.data.userId === newcomer.id)
    expect(registered.id).toMatch(/^\d+-\d+$/)
    expect(registered.data).toMatchObject({
      id: registered.id,
      type: 'user.registered',
      service: 'api',
      subject: `user:${newcomer.id}`,
      data: { nickname: newcomer.nickname, mailMessageId: expect.any(String) }
    })
    expect(typeof registered.data.replica).toBe('string')
    const published = await client.next((e) => e.event === 'outbox.published' && e.data.data.messageId === registered.data.data.mailMessageId)
    expect(published.data).toMatchObject({
      subject: `mail:${registered.data.data.mailMessageId}`,
      userId: newcomer.id,
      data: { messageType: 'mail.welcome.v1', waitedMs: expect.any(Number), batchSize: expect.any(Number) }
    })

    const stats = await client.next((e) => e.event === 'queue.stats')
    expect(stats.data.data.queues.map((q: { name: string }) => q.name)).toEqual(['mail', 'jobs', 'thumbnails'])
    expect(stats.data.data.replicas).toEqual(expect.arrayContaining([expect.objectContaining({ service: 'api', lastSeenAt: expect.any(String) })]))
  })

  test('own events only: user B never sees what user A does', async () => {
    const a = await signUp(t.app)
    const b = await signUp(t.app)
    const streamA = (await open('/v1/events', a.auth)).client
    const streamB = (await open('/v1/events', b.auth)).client
    const jobA = await submitLog(a.auth)
    const seenByA = await streamA.next((e) => e.event === 'job.status' && e.data.data.jobId === jobA)
    expect(seenByA.data).toMatchObject({ userId: a.id, subject: `job:${jobA}`, data: { status: 'QUEUED', jobType: 'log', attempts: 0 } })
    // B's own event, sent after A's, shows B's stream is live and past A's event.
    const jobB = await submitLog(b.auth)
    await streamB.next((e) => e.event === 'job.status' && e.data.data.jobId === jobB)
    expect(streamB.events.every((e) => e.data.userId === b.id)).toBe(true)
    expect(streamA.events.some((e) => e.data.data.jobId === jobB)).toBe(false)
  })

  test('job stream: current status first, each change, closed after DONE; 404 for another user\'s job', async () => {
    const owner = await signUp(t.app)
    const stranger = await signUp(t.app)
    const id = await submitLog(owner.auth)
    expect((await open(`/v1/jobs/${id}/events`, stranger.auth)).status).toBe(404)

    const { client } = await open(`/v1/jobs/${id}/events`, owner.auth)
    const first = await client.next((e) => e.event === 'job.status')
    expect(first.data).toMatchObject({ type: 'job.status', subject: `job:${id}`, data: { jobId: id, status: 'QUEUED' } })

    // The worker's side, exactly as the worker does it: the status store reports through its event publisher.
    await workerSide(async ({ events, redis }) => {
      const store = new JobStatusStore(redis, { prefix: t.env.config.JOBS_REDIS_PREFIX, events })
      await store.started(id, 'log')
      await store.inProgress(id, 'log')
      await store.done(id, 'log', { ok: true })
      await client.end()
      const statuses = client.events.filter((e) => e.event === 'job.status').map((e) => e.data.data.status)
      expect(statuses).toEqual(['QUEUED', 'STARTED', 'IN_PROGRESS', 'DONE'])
      expect(client.events.at(-1)!.data).toMatchObject({ service: 'worker', replica: 'worker-test', userId: owner.id, data: { durationMs: expect.any(Number) } })

      // A finished job: its status, then the end.
      const again = (await open(`/v1/jobs/${id}/events`, owner.auth)).client
      await again.end()
      expect(again.events.map((e) => e.data.data.status)).toEqual(['DONE'])

      // Resumed after STARTED: the changes it missed, then the end.
      const started = client.events.find((e) => e.data.data.status === 'STARTED')!
      const resumed = (await open(`/v1/jobs/${id}/events`, { ...owner.auth, 'last-event-id': started.id! })).client
      await resumed.end()
      expect(resumed.events.map((e) => e.data.data.status)).toEqual(['IN_PROGRESS', 'DONE'])
    })
  })

  test('job stream: a report still on its way when the stream opened (older than the status sent first) is not shown after it', async () => {
    const owner = await signUp(t.app)
    const id = await submitLog(owner.auth)
    await workerSide(async ({ events, redis }) => {
      // A fast worker: the status is IN_PROGRESS while its STARTED and IN_PROGRESS reports are still in the broker.
      const silent = new JobStatusStore(redis, { prefix: t.env.config.JOBS_REDIS_PREFIX })
      const started = (await silent.started(id, 'log')).doc
      const inProgress = (await silent.inProgress(id, 'log')).doc
      const { client } = await open(`/v1/jobs/${id}/events`, owner.auth)
      const first = await client.next((e) => e.event === 'job.status')
      expect(first.data.data).toMatchObject({ status: 'IN_PROGRESS', attempts: 1 })
      // The reports arrive now, late, then the real next change.
      for (const doc of [started, inProgress]) events.emit('job.status', jobStatusEvent(doc))
      const store = new JobStatusStore(redis, { prefix: t.env.config.JOBS_REDIS_PREFIX, events })
      await store.done(id, 'log', { ok: true })
      await client.end()
      expect(client.events.map((e) => e.data.data.status)).toEqual(['IN_PROGRESS', 'DONE'])
    })
  })

  test('Last-Event-ID: a client that reconnects gets what it missed, once, then the live stream', async () => {
    const user = await signUp(t.app)
    const first = (await open('/v1/events', user.auth)).client
    const before = [await submitLog(user.auth), await submitLog(user.auth)]
    await first.next((e) => e.data.data?.jobId === before[1])
    const lastId = first.events.at(-1)!.id!
    first.close()

    const missed = [await submitLog(user.auth), await submitLog(user.auth)]
    const resumed = (await open('/v1/events', { ...user.auth, 'last-event-id': lastId })).client
    const after = await submitLog(user.auth)
    await resumed.next((e) => e.data.data?.jobId === after)
    expect(resumed.events.map((e) => e.data.data.jobId)).toEqual([...missed, after])
    const ids = resumed.events.map((e) => e.id!)
    expect(new Set(ids).size).toBe(ids.length)

    // the wrong shape, or numbers past what a stream id can hold (unsigned 64-bit), on every stream route
    const job = before[0]!
    for (const [path, lastEventId] of [['/v1/events', 'yesterday'], ['/v1/events', '99999999999999999999-99999999999999999999'],
      ['/v1/events', '18446744073709551616-0'], [`/v1/jobs/${job}/events`, '0-18446744073709551616']]) {
      const bad = await open(path!, { ...user.auth, 'last-event-id': lastEventId! })
      expect({ lastEventId, status: bad.status, error: bad.body.error }).toEqual({ lastEventId, status: 400, error: 'VALIDATION_FAILED' })
    }
    // the largest ids there can be are valid places to resume from: the stream opens and stays open
    for (const lastEventId of ['18446744073709551615-18446744073709551615', '18446744073709551615-0']) {
      const edge = await open('/v1/events', { ...user.auth, 'last-event-id': lastEventId })
      expect({ lastEventId, status: edge.status }).toEqual({ lastEventId, status: 200 })
      await submitLog(user.auth)
      await t.app.inject({ method: 'GET', url: '/health' })
      expect(edge.client.ended).toBe(false)
    }
  })

  test('at most EVENTS_STREAMS_PER_USER streams per user (429), and the count frees up when one closes', async () => {
    const user = await signUp(t.app)
    const streams = []
    for (let i = 0; i < 5; i++) streams.push((await open('/v1/events', user.auth)).client)
    const refused = await open('/v1/events', user.auth)
    expect(refused.status).toBe(429)
    expect(refused.body).toEqual({ error: 'TOO_MANY_STREAMS', message: expect.any(String) })
    streams[0]!.close()
    // The server notices the close asynchronously: ask until it has.
    for (;;) {
      const retry = await open('/v1/events', user.auth)
      if (retry.status === 200) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })
})
