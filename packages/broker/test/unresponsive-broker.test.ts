import type { ChannelModel } from 'amqplib'
import { Consumer, Publisher, type BrokerConnection } from '../src'
import { waitFor } from '@socialnet/testing'
import { FreezableProxy, randomPrefix, rawConnection, removeTopology, testConnection } from './harness'

describe('shutdown while the broker has stopped answering', () => {
  const prefix = randomPrefix()
  let raw: ChannelModel
  let proxy: FreezableProxy
  let connection: BrokerConnection

  beforeAll(async () => {
    raw = await rawConnection()
    proxy = await FreezableProxy.start()
    // No heartbeat: nothing but the shutdown's own bounds can end a wait for the broker.
    connection = testConnection(prefix, { url: proxy.url, heartbeatSeconds: 0 })
    await connection.connect()
  })

  afterAll(async () => {
    await proxy.close()
    await removeTopology(raw, connection.topology)
    await raw.close()
  })

  it('consumer.stop, publisher.close and connection.close all return instead of waiting for replies that never come', async () => {
    const publisher = new Publisher(connection)
    const consumer = new Consumer(connection, { queue: 'mail', prefetch: 1, handler: () => new Promise<void>(() => {}) })
    await consumer.start()
    await publisher.publish({ type: 'mail.send.v1', messageId: 'frozen-1', payload: { to: 'a@example.com', subject: 's', text: 't' } })
    await waitFor(() => consumer.active === 1, 'a message in flight')

    proxy.freeze()
    await consumer.stop(200)
    await publisher.close()
    await connection.close()
    expect(connection.isConnected).toBe(false)
  })
})
