import type { FastifyInstance } from 'fastify'
import { useTestApp } from '../helper'
import { signUpVerified as signUp } from '../accounts'
import { promoteToAdmin } from '../../src/users/repository'
import { SseClient } from './sse-client'

async function metric(app: FastifyInstance, name: string): Promise<number> {
  const text = (await app.inject({ url: '/metrics' })).body
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line ? Number(line.split(' ')[1]) : NaN
}

async function adminOf(app: FastifyInstance) {
  const admin = await signUp(app)
  await promoteToAdmin(app.db, admin.email)
  return admin
}

describe('a client that reads too slowly', () => {
  const t = useTestApp({ EVENTS_CLIENT_BUFFER_BYTES: '4096' }, { waitForBroker: true })
  beforeAll(async () => { await t.app.listen({ port: 0, host: '127.0.0.1' }) })

  test('gets stream.dropped and is disconnected; what the server holds for it stays bounded', async () => {
    const admin = await adminOf(t.app)
    const { client } = await SseClient.open(t.app, '/v1/admin/events', admin.auth, { paused: true })
    expect(await metric(t.app, 'socialnet_sse_streams')).toBe(1)

    // Far more than the socket buffers on both ends hold: written straight into the stream, as the collector would.
    const key = `${t.env.config.EVENTS_REDIS_PREFIX}stream`
    const padding = 'x'.repeat(32 * 1024)
    const total = 1000
    for (let batch = 0; batch < total; batch += 100) {
      const pipeline = t.app.redis.pipeline()
      for (let i = batch; i < batch + 100; i++) {
        pipeline.xadd(key, '*', 'e', JSON.stringify({ type: 'mail.sent', at: new Date().toISOString(), service: 'mailer', replica: 'm', subject: `mail:${i}`, data: { padding } }))
      }
      await pipeline.exec()
    }
    for (;;) {
      if (await metric(t.app, 'socialnet_sse_dropped_total') === 1) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(await metric(t.app, 'socialnet_sse_streams')).toBe(0)

    client.response.resume()
    await client.end()
    expect(client.events.at(-1)).toMatchObject({ event: 'stream.dropped', data: { type: 'stream.dropped', data: { reason: expect.stringContaining('too slow') } } })
    expect(client.events.length).toBeLessThan(total)
    expect(client.bytes).toBeLessThan(total * padding.length)
  })

  test('a replay far bigger than that bound goes out at the client\'s pace, without dropping it', async () => {
    const admin = await adminOf(t.app)
    const key = `${t.env.config.EVENTS_REDIS_PREFIX}stream`
    const from = await t.app.redis.xadd(key, '*', 'e', JSON.stringify({ type: 'mail.sent', at: new Date().toISOString(), service: 'mailer', replica: 'm', subject: 'mail:start', data: {} }))
    const pipeline = t.app.redis.pipeline()
    for (let i = 0; i < 300; i++) {
      pipeline.xadd(key, '*', 'e', JSON.stringify({ type: 'mail.sent', at: new Date().toISOString(), service: 'mailer', replica: 'm', subject: `mail:replay-${i}`, data: { padding: 'y'.repeat(1024) } }))
    }
    await pipeline.exec()
    const { client } = await SseClient.open(t.app, '/v1/admin/events', { ...admin.auth, 'last-event-id': from! })
    await client.next((e) => e.data.subject === 'mail:replay-299')
    const replayed = client.events.filter((e) => String(e.data.subject).startsWith('mail:replay-'))
    expect(replayed.map((e) => e.data.subject)).toEqual(Array.from({ length: 300 }, (_, i) => `mail:replay-${i}`))
    expect(client.events.some((e) => e.event === 'stream.dropped')).toBe(false)
    client.close()
  })
})

describe('two api replicas', () => {
  const t = useTestApp({}, { waitForBroker: true, replicas: 2 })
  beforeAll(async () => {
    for (const replica of t.replicas) await replica.listen({ port: 0, host: '127.0.0.1' })
  })

  test('each serves every event, whichever replica collected it', async () => {
    const [one, two] = t.replicas as [FastifyInstance, FastifyInstance]
    const admin = await adminOf(one)
    const streams = [
      (await SseClient.open(one, '/v1/admin/events', admin.auth)).client,
      (await SseClient.open(two, '/v1/admin/events', admin.auth)).client
    ]
    try {
      const users = [await signUp(one), await signUp(two), await signUp(one), await signUp(two)]
      for (const stream of streams) {
        for (const user of users) await stream.next((e) => e.event === 'user.registered' && e.data.userId === user.id)
      }
      const ids = (stream: SseClient) => stream.events.filter((e) => e.event === 'user.registered').map((e) => e.id)
      expect(ids(streams[0]!)).toEqual(ids(streams[1]!))
    } finally {
      for (const stream of streams) stream.close()
    }
  })
})

describe('without a broker', () => {
  // Nothing listens on port 1: the api starts without RabbitMQ and keeps trying.
  // The heartbeat at start fills the one-event buffer; the next comes long after the test.
  const t = useTestApp({ AMQP_URL: 'amqp://guest:guest@127.0.0.1:1', EVENTS_PUBLISH_BUFFER: '1', REPLICA_HEARTBEAT_MS: '20000' })

  test('registrations still succeed; their events are dropped and counted', async () => {
    const before = await metric(t.app, 'socialnet_events_dropped_total')
    for (let i = 0; i < 3; i++) await signUp(t.app)
    // Each new event pushes the oldest out of the full buffer: three drops (the last registration's event waits).
    expect(await metric(t.app, 'socialnet_events_dropped_total') - before).toBe(3)
  })
})

describe('stream lifetime', () => {
  const t = useTestApp({ EVENTS_HEARTBEAT_MS: '200' }, { waitForBroker: true })

  test('a quiet stream gets `: ping` comments; closing the api ends its streams instead of waiting for them', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    const user = await signUp(t.app)
    const { client } = await SseClient.open(t.app, '/v1/events', user.auth)
    while (client.comments === 0) await new Promise((resolve) => setTimeout(resolve, 50))
    await t.restart()
    await client.end()
    expect(client.ended).toBe(true)
  })

  test('logging out ends the session\'s streams; a demoted admin\'s admin stream ends too', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    const user = await signUp(t.app)
    const own = (await SseClient.open(t.app, '/v1/events', user.auth)).client
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/sessions/current', headers: user.auth })).statusCode).toBe(204)
    await own.end()

    const admin = await adminOf(t.app)
    const feed = (await SseClient.open(t.app, '/v1/admin/events', admin.auth)).client
    await t.app.db.query("UPDATE users SET role = 'user' WHERE id = $1", [admin.id])
    await feed.end()
    expect(feed.ended).toBe(true)
  })
})
