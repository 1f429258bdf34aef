import { MalformedMessageError } from '@socialnet/contracts'
import type { ChannelModel } from 'amqplib'
import {
  BrokerConnection,
  Publisher,
  PublisherBufferFullError,
  PublishTimeoutError,
  UnroutableMessageError,
  topology
} from '../src'
import { closeBrokerConnections, waitFor } from '@socialnet/testing'
import { AMQP_URL, depth, drain, randomPrefix, rawConnection, removeTopology, testConnection } from './harness'

const welcome = { to: 'ada@example.com', nickname: 'ada', verificationUrl: 'http://localhost:3000/verify?token=abc' }

describe('Publisher', () => {
  const prefix = randomPrefix()
  const names = topology({ prefix, retryDelaysMs: [50, 100, 200] })
  let raw: ChannelModel
  let connection: BrokerConnection
  let publisher: Publisher

  beforeAll(async () => {
    raw = await rawConnection()
    connection = testConnection(prefix)
    await connection.connect()
    publisher = new Publisher(connection)
  })

  afterAll(async () => {
    await publisher.close()
    await connection.close()
    await removeTopology(raw, names)
    await raw.close()
  })

  afterEach(async () => {
    await drain(raw, names.queues.mail.name)
  })

  it('resolves after the broker confirmed, with every property a consumer relies on', async () => {
    const before = Math.floor(Date.now() / 1000)
    await publisher.publish({ type: 'mail.welcome.v1', messageId: 'm-1', payload: welcome })
    const [message] = await drain(raw, names.queues.mail.name)
    expect(message).toBeDefined()
    expect(JSON.parse(message!.content.toString())).toEqual(welcome)
    expect(message!.properties).toMatchObject({
      messageId: 'm-1',
      type: 'mail.welcome.v1',
      contentType: 'application/json',
      deliveryMode: 2
    })
    expect(message!.properties.timestamp).toBeGreaterThanOrEqual(before)
    expect(message!.fields.routingKey).toBe('mail.welcome.v1')
  })

  it('rejects an unroutable message instead of letting the broker drop it', async () => {
    await expect(
      publisher.publish({ type: 'mail.welcome.v1', messageId: 'm-2', payload: welcome, routingKey: 'nobody.listens' })
    ).rejects.toBeInstanceOf(UnroutableMessageError)
    // The publisher stays usable afterwards.
    await publisher.publish({ type: 'mail.welcome.v1', messageId: 'm-3', payload: welcome })
    expect(await depth(raw, names.queues.mail.name)).toBe(1)
  })

  it('refuses a payload that does not match its contract, before sending anything', async () => {
    await expect(
      publisher.publish({ type: 'mail.welcome.v1', messageId: 'm-4', payload: { ...welcome, to: 'not an address' } })
    ).rejects.toBeInstanceOf(MalformedMessageError)
    expect(await depth(raw, names.queues.mail.name)).toBe(0)
  })

  it('buffers while the broker is unreachable and sends once connected', async () => {
    const late = testConnection(prefix)
    const buffered = new Publisher(late)
    const sent = buffered.publish({ type: 'mail.welcome.v1', messageId: 'm-5', payload: welcome })
    expect(buffered.pending).toBe(1)
    await late.connect()
    await sent
    await buffered.close()
    await late.close()
    const messages = await drain(raw, names.queues.mail.name)
    expect(messages.map((m) => m.properties.messageId)).toEqual(['m-5'])
  })

  it('bounds the buffer and times out rather than holding messages forever', async () => {
    // Nothing listens on port 1: the connection keeps retrying in the background.
    const nowhere = new BrokerConnection({ url: 'amqp://guest:guest@127.0.0.1:1', name: 'nowhere', reconnectMinMs: 50, reconnectMaxMs: 100 })
    void nowhere.connect().catch(() => {})
    const bounded = new Publisher(nowhere, { maxBuffered: 2, timeoutMs: 300 })
    const first = bounded.publish({ type: 'mail.welcome.v1', messageId: 'b-1', payload: welcome })
    const second = bounded.publish({ type: 'mail.welcome.v1', messageId: 'b-2', payload: welcome })
    await expect(bounded.publish({ type: 'mail.welcome.v1', messageId: 'b-3', payload: welcome })).rejects.toBeInstanceOf(PublisherBufferFullError)
    await expect(first).rejects.toBeInstanceOf(PublishTimeoutError)
    await expect(second).rejects.toBeInstanceOf(PublishTimeoutError)
    await bounded.close()
    await nowhere.close()
  })

  it('loses nothing when the connection is cut mid-stream: every publish resolves and every message arrives', async () => {
    const name = `publisher-cut:${prefix}`
    const cut = new BrokerConnection({ url: AMQP_URL, name, prefix, retryDelaysMs: [50, 100, 200], reconnectMinMs: 50, reconnectMaxMs: 200 })
    await cut.connect()
    const sender = new Publisher(cut, { timeoutMs: 30_000, maxBuffered: 10_000 })
    const ids = Array.from({ length: 300 }, (_, i) => `cut-${i}`)
    const results: Promise<void>[] = []
    for (const [i, id] of ids.entries()) {
      results.push(sender.publish({ type: 'mail.welcome.v1', messageId: id, payload: welcome }))
      if (i === 100) {
        expect(await closeBrokerConnections(name)).toBe(1)
      }
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    await Promise.all(results)
    await waitFor(async () => (await depth(raw, names.queues.mail.name)) >= ids.length, 'all messages queued')
    const arrived = new Set((await drain(raw, names.queues.mail.name)).map((m) => m.properties.messageId))
    // At-least-once: a message whose confirm was lost with the connection is sent again.
    expect(ids.filter((id) => !arrived.has(id))).toEqual([])
    await sender.close()
    await cut.close()
  })
})
