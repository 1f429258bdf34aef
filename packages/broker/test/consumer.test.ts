import type { ChannelModel, Options } from 'amqplib'
import {
  Consumer,
  PermanentError,
  Publisher,
  topology,
  type AnyConsumedMessage,
  type BrokerConnection,
  type MessageHandler
} from '../src'
import { closeBrokerConnections, waitFor } from '@socialnet/testing'
import { depth, drain, randomPrefix, rawConnection, removeTopology, testConnection, TEST_RETRY_DELAYS_MS } from './harness'

const welcome = { to: 'ada@example.com', nickname: 'ada', verificationUrl: 'http://localhost:3000/verify?token=abc' }

describe('Consumer', () => {
  const prefix = randomPrefix()
  const names = topology({ prefix, retryDelaysMs: TEST_RETRY_DELAYS_MS })
  const mail = names.queues.mail
  let raw: ChannelModel
  let connection: BrokerConnection
  let publisher: Publisher
  let consumer: Consumer | undefined

  beforeAll(async () => {
    raw = await rawConnection()
    connection = testConnection(prefix)
    await connection.connect()
    publisher = new Publisher(connection)
  })

  afterEach(async () => {
    await consumer?.stop(1000)
    consumer = undefined
    await drain(raw, mail.name)
    await drain(raw, mail.dlq)
  })

  afterAll(async () => {
    await publisher.close()
    await connection.close()
    await removeTopology(raw, names)
    await raw.close()
  })

  async function consume(handler: MessageHandler, options: { prefetch?: number; maxAttempts?: number } = {}): Promise<Consumer> {
    consumer = new Consumer(connection, { queue: 'mail', handler, maxAttempts: 3, ...options })
    await consumer.start()
    return consumer
  }

  function publish(messageId: string): Promise<void> {
    return publisher.publish({ type: 'mail.welcome.v1', messageId, payload: welcome })
  }

  async function publishRaw(body: string, options: Options.Publish, routingKey = 'mail.welcome.v1'): Promise<void> {
    const channel = await raw.createConfirmChannel()
    channel.publish(names.exchange, routingKey, Buffer.from(body), { persistent: true, ...options })
    await channel.waitForConfirms()
    await channel.close()
  }

  it('hands the validated message to the handler and acks it after the handler resolved', async () => {
    const seen: AnyConsumedMessage[] = []
    await consume(async (message) => {
      seen.push(message)
    })
    await publish('ok-1')
    await waitFor(() => seen.length === 1, 'delivery')
    expect(seen[0]).toMatchObject({ messageId: 'ok-1', type: 'mail.welcome.v1', payload: welcome, attempt: 1, redelivered: false })
    await waitFor(() => consumer!.active === 0, 'ack')
    await consumer!.stop(1000)
    expect(await depth(raw, mail.name)).toBe(0)
    expect(await depth(raw, mail.dlq)).toBe(0)
  })

  it('retries a failing message with its attempt count until it succeeds', async () => {
    const attempts: number[] = []
    await consume(async (message) => {
      attempts.push(message.attempt)
      if (message.attempt < 3) throw new Error('smtp is napping')
    })
    await publish('retry-1')
    await waitFor(() => attempts.length === 3, 'three attempts')
    await waitFor(() => consumer!.active === 0, 'ack')
    expect(attempts).toEqual([1, 2, 3])
    expect(await depth(raw, mail.dlq)).toBe(0)
  })

  it('dead-letters after maxAttempts with the reason, the attempt count and the original body', async () => {
    let calls = 0
    await consume(async () => {
      calls += 1
      throw new Error('still broken')
    })
    await publish('dead-1')
    await waitFor(async () => (await depth(raw, mail.dlq)) === 1, 'dead letter')
    const [dead] = await drain(raw, mail.dlq)
    expect(calls).toBe(3)
    expect(JSON.parse(dead!.content.toString())).toEqual(welcome)
    expect(dead!.properties.messageId).toBe('dead-1')
    expect(dead!.properties.headers).toMatchObject({
      'x-attempt': 3,
      'x-failure-kind': 'exhausted',
      'x-failure-queue': mail.name
    })
    expect(String(dead!.properties.headers?.['x-failure-reason'])).toContain('still broken')
  })

  it('dead-letters at once when the handler says the failure is permanent', async () => {
    let calls = 0
    await consume(async () => {
      calls += 1
      throw new PermanentError('550 no such user')
    })
    await publish('perm-1')
    await waitFor(async () => (await depth(raw, mail.dlq)) === 1, 'dead letter')
    const [dead] = await drain(raw, mail.dlq)
    expect(calls).toBe(1)
    expect(dead!.properties.headers).toMatchObject({ 'x-failure-kind': 'permanent', 'x-failure-reason': '550 no such user', 'x-attempt': 1 })
  })

  it('dead-letters malformed messages at once with the reason and keeps consuming', async () => {
    const handled: string[] = []
    await consume(async (message) => {
      handled.push(message.messageId)
    })
    const good = { messageId: 'x', type: 'mail.welcome.v1', contentType: 'application/json' }
    await publishRaw('{not json', { ...good, messageId: 'bad-json' })
    await publishRaw(JSON.stringify(welcome), { type: 'mail.welcome.v1' })
    await publishRaw(JSON.stringify(welcome), { ...good, messageId: 'bad-type', type: 'mail.bogus.v1' }, 'mail.bogus.v1')
    await publishRaw(JSON.stringify({ ...welcome, to: 'a@b.c\r\nBcc: everyone@example.com' }), { ...good, messageId: 'bad-shape' })
    await publishRaw(JSON.stringify(welcome), { ...good, messageId: 'bad-ctype', contentType: 'text/plain' })
    await publish('good-after')
    await waitFor(() => handled.includes('good-after'), 'the good message')
    await waitFor(async () => (await depth(raw, mail.dlq)) === 5, 'five dead letters')
    const dead = await drain(raw, mail.dlq)
    const reasons = Object.fromEntries(dead.map((m) => [m.properties.messageId ?? '(none)', String(m.properties.headers?.['x-failure-reason'])]))
    expect(dead.every((m) => m.properties.headers?.['x-failure-kind'] === 'malformed')).toBe(true)
    expect(reasons['bad-json']).toMatch(/not valid JSON/)
    expect(reasons['(none)']).toMatch(/missing messageId/)
    expect(reasons['bad-type']).toMatch(/unknown message type|not accepted/)
    expect(reasons['bad-shape']).toMatch(/\/to/)
    expect(reasons['bad-ctype']).toMatch(/contentType/)
    expect(handled).toEqual(['good-after'])
  })

  it('never runs more handlers at once than its prefetch', async () => {
    let active = 0
    let peak = 0
    let done = 0
    await consume(
      async () => {
        active += 1
        peak = Math.max(peak, active)
        await new Promise((resolve) => setTimeout(resolve, 20))
        active -= 1
        done += 1
      },
      { prefetch: 3 }
    )
    await Promise.all(Array.from({ length: 20 }, (_, i) => publish(`pf-${i}`)))
    await waitFor(() => done === 20, 'all handled')
    expect(peak).toBeLessThanOrEqual(3)
    expect(peak).toBeGreaterThan(1)
  })

  it('stop() takes no new messages but lets the one in flight finish and acks it', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const started: string[] = []
    const finished: string[] = []
    const c = await consume(
      async (message) => {
        started.push(message.messageId)
        await gate
        finished.push(message.messageId)
      },
      { prefetch: 1 }
    )
    await publish('drain-1')
    await publish('drain-2')
    await waitFor(() => started.length === 1, 'first delivery')
    const stopped = c.stop(30_000)
    setTimeout(release, 50)
    await stopped
    expect(finished).toEqual(['drain-1'])
    // The finished one was acked; the other waits in the queue for the next consumer.
    const left = await drain(raw, mail.name)
    expect(left.map((m) => m.properties.messageId)).toEqual(['drain-2'])
  })

  it('stop() gives up on a stuck handler at its deadline and the message returns to the queue', async () => {
    const c = await consume(() => new Promise<void>(() => {}), { prefetch: 1 })
    await publish('stuck-1')
    await waitFor(() => c.active === 1, 'delivery')
    await c.stop(100)
    await waitFor(async () => (await depth(raw, mail.name)) === 1, 'message back in the queue')
  })

  it('recovers after the broker drops its connection: redelivers what was in flight and keeps consuming', async () => {
    const name = `consumer-cut:${prefix}`
    const own = testConnection(prefix, { name })
    await own.connect()
    const deliveries: { id: string; redelivered: boolean }[] = []
    let hold = true
    const c = new Consumer(own, {
      queue: 'mail',
      prefetch: 1,
      handler: async (message) => {
        deliveries.push({ id: message.messageId, redelivered: message.redelivered })
        while (hold) await new Promise((resolve) => setTimeout(resolve, 10))
      }
    })
    await c.start()
    let disconnected = 0
    own.on('disconnected', () => (disconnected += 1))
    await publish('cut-1')
    await waitFor(() => deliveries.length === 1, 'first delivery')
    expect(await closeBrokerConnections(name)).toBe(1)
    await waitFor(() => disconnected === 1 && own.isConnected && c.isConsuming, 'reconnected consumer')
    hold = false
    await publish('cut-2')
    await waitFor(() => deliveries.some((d) => d.id === 'cut-2'), 'a message published after the reconnect')
    await waitFor(() => deliveries.some((d) => d.id === 'cut-1' && d.redelivered), 'redelivery of the in-flight message')
    await c.stop(1000)
    await own.close()
    expect(await depth(raw, mail.name)).toBe(0)
  })
})
