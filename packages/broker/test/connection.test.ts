import type { ChannelModel } from 'amqplib'
import { BrokerClosedError, BrokerConnection, DELIVERY_LIMIT, Publisher } from '../src'
import { closeBrokerConnections, waitFor } from '@socialnet/testing'
import { depth, randomPrefix, rawConnection, removeTopology, testConnection } from './harness'

describe('BrokerConnection', () => {
  const prefix = randomPrefix()
  let raw: ChannelModel
  let connection: BrokerConnection

  beforeAll(async () => {
    raw = await rawConnection()
    connection = testConnection(prefix)
  })

  afterAll(async () => {
    await connection.close()
    await removeTopology(raw, connection.topology)
    await raw.close()
  })

  it('connects once however often connect() is called, and declares the topology', async () => {
    await Promise.all([connection.connect(), connection.connect()])
    await connection.connect()
    expect(connection.isConnected).toBe(true)
    const channel = await raw.createChannel()
    await expect(channel.checkQueue(connection.topology.queues.mail.dlq)).resolves.toMatchObject({ messageCount: 0 })
    await channel.close()
  })

  it('reconnects after the broker drops it and declares the topology again', async () => {
    const events: string[] = []
    connection.on('disconnected', () => events.push('disconnected'))
    connection.on('connected', () => events.push('connected'))
    // A queue lost on the broker side (as after a node reset) comes back with the reconnect.
    const channel = await raw.createChannel()
    await channel.deleteQueue(connection.topology.queues.thumbnails.name)
    await channel.close()
    expect(await closeBrokerConnections(connection.name)).toBe(1)
    await waitFor(() => events.join(',') === 'disconnected,connected', 'reconnect')
    expect(await depth(raw, connection.topology.queues.thumbnails.name)).toBe(0)
  })

  it('dead-letters a message its consumers keep dying on, after the delivery limit', async () => {
    const publisher = new Publisher(connection)
    await publisher.publish({ type: 'mail.send.v1', messageId: 'crashy', payload: { to: 'a@example.com', subject: 's', text: 't' } })
    await publisher.close()
    // Each requeue is what a consumer dying with the message unacked looks like to the queue.
    const channel = await raw.createChannel()
    for (let i = 0; i <= DELIVERY_LIMIT; i++) {
      const message = await channel.get(connection.topology.queues.mail.name)
      if (message) channel.nack(message, false, true)
    }
    await channel.close()
    await waitFor(async () => (await depth(raw, connection.topology.queues.mail.dlq)) === 1, 'the dead letter')
    expect(await depth(raw, connection.topology.queues.mail.name)).toBe(0)
  })

  it('close() is idempotent and a closed connection refuses to connect again', async () => {
    const other = testConnection(prefix)
    await other.connect()
    await Promise.all([other.close(), other.close()])
    expect(other.isConnected).toBe(false)
    await expect(other.connect()).rejects.toBeInstanceOf(BrokerClosedError)
  })

  it('close() while the broker is unreachable stops the retry loop and rejects waiters', async () => {
    const nowhere = new BrokerConnection({ url: 'amqp://guest:guest@127.0.0.1:1', name: 'nowhere', reconnectMinMs: 20, reconnectMaxMs: 50 })
    const waiting = expect(nowhere.connect()).rejects.toBeInstanceOf(BrokerClosedError)
    await nowhere.close()
    await waiting
  })
})
