import { BrokerConnection, EventPublisher, startHeartbeat } from '@socialnet/broker'
import { useTestApp } from '../helper'
import { signUpVerified as signUp } from '../accounts'
import { promoteToAdmin } from '../../src/users/repository'
import { REPLICA_SEEN_WINDOW_MS } from '../../src/events/event-store'
import { SseClient, type SseEvent } from './sse-client'

/** A replica as `queue.stats` lists it. */
interface Listed {
  service: string
  replica: string
  lastSeenAt: string
  stale: boolean
  handled?: number
}

const listed = (stats: SseEvent): Listed[] => stats.data.data.replicas as Listed[]

describe('replica heartbeats', () => {
  const t = useTestApp({ REPLICA_HEARTBEAT_MS: '300' }, { waitForBroker: true })
  const opened: SseClient[] = []
  const connections: BrokerConnection[] = []
  beforeAll(async () => { await t.app.listen({ port: 0, host: '127.0.0.1' }) })
  afterEach(async () => {
    for (const client of opened.splice(0)) client.close()
    for (const connection of connections.splice(0)) await connection.close()
  })

  const adminStream = async (): Promise<SseClient> => {
    const admin = await signUp(t.app)
    await promoteToAdmin(t.app.db, admin.email)
    const { status, client } = await SseClient.open(t.app, '/v1/admin/events', admin.auth)
    expect(status).toBe(200)
    opened.push(client)
    return client
  }
  /** A mailer-like process: its own broker connection and event publisher, as the mailer's service opens them. */
  const startProcess = async (replica: string): Promise<EventPublisher> => {
    const connection = new BrokerConnection({ url: t.env.config.AMQP_URL, prefix: t.env.config.AMQP_PREFIX, name: replica, ownsTopology: false })
    connections.push(connection)
    await connection.connect()
    return new EventPublisher(connection, { service: 'mailer', replica })
  }
  /** The first queue.stats from now on whose replicas pass `check`. */
  const statsWhere = (client: SseClient, check: (replicas: Listed[]) => boolean): Promise<SseEvent> =>
    client.next((e) => e.event === 'queue.stats' && check(listed(e)), client.events.length)

  test('an idle replica stays listed with its count; heartbeats reach no stream; a killed one goes stale, then away', async () => {
    const client = await adminStream()
    const events = await startProcess('mailer-idle')
    let handled = 0
    const heartbeat = startHeartbeat(events, { intervalMs: 200, handled: () => handled })

    const first = await statsWhere(client, (r) => r.some((x) => x.replica === 'mailer-idle'))
    expect(listed(first).find((x) => x.replica === 'mailer-idle')).toEqual({
      service: 'mailer', replica: 'mailer-idle', lastSeenAt: expect.any(String), stale: false, handled: 0
    })
    // The api replica beats too, idle or not.
    expect(listed(first)).toEqual(expect.arrayContaining([expect.objectContaining({ service: 'api', replica: t.env.config.REPLICA_ID ?? expect.any(String), stale: false })]))

    // Idle for several intervals of the window the old list was built from: still there, still fresh, count moving.
    handled = 7
    const later = await statsWhere(client, (r) => r.some((x) => x.replica === 'mailer-idle' && x.handled === 7))
    expect(listed(later).find((x) => x.replica === 'mailer-idle')!.stale).toBe(false)

    // Cheap: no heartbeat is ever an event of a stream (admin feed included), nor an entry of the Redis stream.
    expect(client.events.some((e) => e.event.startsWith('replica.'))).toBe(false)
    const entries = await t.app.redis.xrange(t.app.eventStreams.store.streamKey, '-', '+')
    expect(entries.some(([, fields]) => fields.join(' ').includes('replica.heartbeat'))).toBe(false)

    // Killed: the publisher is gone before any goodbye (stop() then emits into a closed publisher).
    await events.close()
    heartbeat.stop()
    const stale = await statsWhere(client, (r) => r.some((x) => x.replica === 'mailer-idle' && x.stale))
    expect(listed(stale).find((x) => x.replica === 'mailer-idle')).toMatchObject({ stale: true, handled: 7 })

    // Past the window it leaves the list and the hash. Aged by hand: a test does not wait a minute.
    const key = 'mailer/mailer-idle'
    const entry = JSON.parse((await t.app.redis.hget(t.app.eventStreams.store.replicasKey, key))!) as { lastSeenAt: string }
    entry.lastSeenAt = new Date(Date.now() - REPLICA_SEEN_WINDOW_MS - 1000).toISOString()
    await t.app.redis.hset(t.app.eventStreams.store.replicasKey, key, JSON.stringify(entry))
    await statsWhere(client, (r) => !r.some((x) => x.replica === 'mailer-idle'))
    expect(await t.app.redis.hexists(t.app.eventStreams.store.replicasKey, key)).toBe(0)
  })

  test('a replica that stops gracefully says so and leaves the list at once, without going stale', async () => {
    const client = await adminStream()
    const events = await startProcess('mailer-leaving')
    const heartbeat = startHeartbeat(events, { intervalMs: 5000 })
    await statsWhere(client, (r) => r.some((x) => x.replica === 'mailer-leaving'))
    heartbeat.stop()
    await events.close()
    // Well before three missed beats (15 s) it is gone.
    await statsWhere(client, (r) => !r.some((x) => x.replica === 'mailer-leaving'))
    expect(client.events.filter((e) => e.event === 'queue.stats').every((e) => !listed(e).some((x) => x.replica === 'mailer-leaving' && x.stale))).toBe(true)
  })
})
