import { randomUUID } from 'node:crypto'
import type { ChannelModel } from 'amqplib'
import {
  Consumer, EVENT_BATCH_MAX, EVENT_BATCH_TYPE, EventPublisher, PermanentError, Publisher, USER_ID_HEADER, eventsOfMessage, startHeartbeat,
  type BrokerConnection, type ConsumerDecision, type EmittedEvent
} from '../src'
import { waitFor } from '@socialnet/testing'
import { drain, randomPrefix, rawConnection, removeTopology, testConnection } from './harness'

describe('events', () => {
  let raw: ChannelModel
  let api: BrokerConnection
  const prefix = randomPrefix()
  const closers: Array<() => Promise<unknown>> = []

  beforeAll(async () => {
    raw = await rawConnection()
    // The api's connection declares the whole topology, the events exchange and queue included.
    api = testConnection(prefix)
    await api.connect()
  })
  afterAll(async () => {
    for (const close of closers.reverse()) await close()
    await api.close()
    await removeTopology(raw, api.topology)
    await raw.close()
  })

  const collected = async (count: number): Promise<EmittedEvent[]> => {
    const got: EmittedEvent[] = []
    await waitFor(async () => {
      for (const message of await drain(raw, api.topology.events.queue)) got.push(...eventsOfMessage(message) as EmittedEvent[])
      return got.length >= count
    }, `${count} events`)
    return got
  }

  test('an emitted event reaches the events queue in a batch routed by its service, with service, replica and time', async () => {
    const events = new EventPublisher(api, { service: 'api', replica: 'api-1' })
    closers.push(() => events.close())
    events.emit('user.registered', { subject: 'user:1', userId: 'u1', data: { nickname: 'ada' } })
    let messages: Awaited<ReturnType<typeof drain>> = []
    await waitFor(async () => (messages = await drain(raw, api.topology.events.queue)).length > 0, 'the batch')
    expect(messages).toHaveLength(1)
    expect(messages[0]!.fields.routingKey).toBe('batch.api')
    expect(messages[0]!.properties).toMatchObject({ type: EVENT_BATCH_TYPE, contentType: 'application/json' })
    expect(eventsOfMessage(messages[0]!)).toEqual([
      { type: 'user.registered', at: expect.any(String), service: 'api', replica: 'api-1', subject: 'user:1', userId: 'u1', data: { nickname: 'ada' } }
    ])
  })

  test('events emitted together share messages: at most EVENT_BATCH_MAX each, in the order emitted', async () => {
    const events = new EventPublisher(api, { service: 'mailer', replica: 'm-1', maxBuffered: 10_000 })
    closers.push(() => events.close())
    const count = EVENT_BATCH_MAX * 2 + 7
    for (let i = 0; i < count; i++) events.emit(i % 2 ? 'mail.sent' : 'mail.consumed', { subject: `mail:${Math.floor(i / 2)}`, data: { i } })
    const messages: Awaited<ReturnType<typeof drain>> = []
    const got: EmittedEvent[] = []
    await waitFor(async () => {
      for (const message of await drain(raw, api.topology.events.queue)) {
        messages.push(message)
        got.push(...eventsOfMessage(message) as EmittedEvent[])
      }
      return got.length >= count
    }, `${count} events`)
    // Emitted in one go: full batches first, the rest together (the timer fires once the loop is done).
    expect(messages.map((m) => (eventsOfMessage(m)).length)).toEqual([EVENT_BATCH_MAX, EVENT_BATCH_MAX, 7])
    expect(got.map((e) => e.data.i)).toEqual(Array.from({ length: count }, (_, i) => i))
  })

  test('while the broker is away emit never blocks: a bounded buffer, the oldest dropped and counted, the rest sent later', async () => {
    const late = testConnection(prefix, { ownsTopology: false })
    const dropped: number[] = []
    const events = new EventPublisher(late, { service: 'worker', replica: 'w', maxBuffered: 3, onDropped: (n) => dropped.push(n) })
    for (let i = 0; i < 5; i++) events.emit('job.status', { subject: `job:${i}`, data: { i } })
    expect(events.dropped).toBe(2)
    expect(dropped).toEqual([1, 1])
    expect(events.buffered).toBe(3)
    await late.connect()
    closers.push(() => late.close(), () => events.close())
    const got = await collected(3)
    expect(got.map((e) => e.subject)).toEqual(['job:2', 'job:3', 'job:4'])
  })

  test('while the broker is away a heartbeat is not buffered (it would push out real events and arrive late); once it is back the beats go out', async () => {
    const late = testConnection(prefix, { ownsTopology: false })
    const events = new EventPublisher(late, { service: 'worker', replica: 'hb' })
    const heartbeat = startHeartbeat(events, { intervalMs: 20 })
    events.emit('job.status', { subject: 'job:real', data: {} })
    // The first beat (before any event waited) and the real event; every later beat skipped.
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(events.stalled).toBe(true)
    expect(events.buffered).toBe(2)
    await late.connect()
    closers.push(() => late.close(), () => events.close())
    const got: EmittedEvent[] = []
    await waitFor(async () => {
      for (const message of await drain(raw, api.topology.events.queue)) got.push(...eventsOfMessage(message) as EmittedEvent[])
      // Beating again once connected; the goodbye is the last of them.
      if (got.length >= 4) heartbeat.stop()
      return got.at(-1)?.type === 'replica.stopped'
    }, 'heartbeats after the reconnect, then replica.stopped')
    expect(got.slice(0, 2).map((e) => e.type)).toEqual(['replica.heartbeat', 'job.status'])
    expect(got.slice(2, -1).every((e) => e.type === 'replica.heartbeat')).toBe(true)
  })

  test('started before the events exchange exists: one info line, no warning, and the events go out once the api declared it', async () => {
    const early = randomPrefix()
    const lines: { level: string, msg: string, obj: object }[] = []
    const record = (level: string) => (obj: object, msg: string) => { lines.push({ level, msg, obj }) }
    const log = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') }
    const worker = testConnection(early, { ownsTopology: false, log })
    await worker.connect()
    const events = new EventPublisher(worker, { service: 'worker', replica: 'w' })
    closers.push(() => worker.close(), () => events.close())
    events.emit('job.status', { subject: 'job:early', data: {} })
    await waitFor(() => lines.some((l) => l.msg.startsWith('waiting for the api')), 'the waiting line')
    const declarer = testConnection(early)
    await declarer.connect()
    closers.push(async () => { await declarer.close(); await removeTopology(raw, declarer.topology) })
    await waitFor(async () => (await drain(raw, declarer.topology.events.queue)).length === 1, 'the buffered event')
    expect(lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([])
    expect(lines.filter((l) => l.msg.startsWith('waiting for the api'))).toEqual([
      { level: 'info', msg: 'waiting for the api to declare the events exchange; events wait in a bounded buffer', obj: { exchange: `${early}socialnet.events` } }
    ])
  })

  test('the Consumer tells onDecision each retry and dead letter, once the message has moved', async () => {
    const decisions: ConsumerDecision[] = []
    const consumer = new Consumer(api, {
      queue: 'mail',
      maxAttempts: 2,
      handler: async (message) => {
        if (message.messageId.startsWith('permanent')) throw new PermanentError('refused for good')
        throw new Error('not now')
      },
      onDecision: (d) => decisions.push(d)
    })
    closers.push(() => consumer.stop(1000))
    await consumer.start()
    const publisher = new Publisher(api)
    closers.push(() => publisher.close())
    const payload = { to: 'ada@example.com', nickname: 'ada', verificationUrl: 'http://localhost:3000/v1/users/verify?token=abc' }
    const transient = `transient-${randomUUID()}`
    const permanent = `permanent-${randomUUID()}`
    await publisher.publish({ type: 'mail.welcome.v1', messageId: transient, payload, headers: { [USER_ID_HEADER]: 'u1' } })
    await publisher.publish({ type: 'mail.welcome.v1', messageId: permanent, payload })
    await waitFor(() => decisions.length === 3, 'three decisions')
    const of = (id: string) => decisions.filter((d) => d.messageId === id)
    expect(of(transient)).toEqual([
      expect.objectContaining({ action: 'retry', attempt: 1, delayMs: expect.any(Number), retryAt: expect.any(Date), reason: 'not now', headers: expect.objectContaining({ [USER_ID_HEADER]: 'u1' }) }),
      expect.objectContaining({ action: 'dead_letter', attempt: 2, kind: 'exhausted', permanent: false })
    ])
    expect(of(permanent)).toEqual([expect.objectContaining({ action: 'dead_letter', attempt: 1, kind: 'permanent', permanent: true, reason: 'refused for good' })])
  })
})
