import type { ChannelModel } from 'amqplib'
import { Consumer, type BrokerConnection } from '../src'
import { ManagedChannel } from '../src/managed-channel'
import type { ConfirmedChannel } from '../src/confirmed-channel'
import { closeBrokerConnections, waitFor } from '@socialnet/testing'
import { drain, randomPrefix, rawConnection, removeTopology, testConnection } from './harness'

const welcome = { to: 'ada@example.com', nickname: 'ada', verificationUrl: 'http://localhost:3000/verify?token=abc' }

describe('ManagedChannel', () => {
  const prefix = randomPrefix()
  let raw: ChannelModel
  let connection: BrokerConnection

  beforeAll(async () => {
    raw = await rawConnection()
    connection = testConnection(prefix, { name: `managed-channel:${prefix}` })
    await connection.connect()
  })

  afterAll(async () => {
    await connection.close()
    await removeTopology(raw, connection.topology)
    await raw.close()
  })

  /** A ManagedChannel that records what it is told. */
  function recorded(options: { setup?: (c: ConfirmedChannel) => Promise<void>; wanted?: () => boolean } = {}): { managed: ManagedChannel; log: string[]; opened: ConfirmedChannel[] } {
    const log: string[] = []
    const opened: ConfirmedChannel[] = []
    const managed = new ManagedChannel(connection, {
      role: 'test',
      reopenDelayMs: 50,
      ...options,
      onOpen: (c) => {
        opened.push(c)
        log.push('open')
      },
      onClose: () => log.push('close')
    })
    return { managed, log, opened }
  }

  it('opens a new channel after the broker closed one on a live connection, after its pause', async () => {
    const { managed, log, opened } = recorded()
    await managed.open()
    expect(log).toEqual(['open'])
    const first = managed.channel!
    // A 404 on a passive declare is a channel error: the broker closes the channel, not the connection.
    await expect(first.channel.checkQueue(`${prefix}no-such-queue`)).rejects.toThrow(/NOT_FOUND/)
    await waitFor(() => log.length === 3, 'closed and reopened')
    expect(log).toEqual(['open', 'close', 'open'])
    expect(opened[1]).not.toBe(first)
    expect(managed.channel).toBe(opened[1])
    await managed.close()
    expect(managed.channel).toBeUndefined()
  })

  it('reopens on every reconnect of the connection', async () => {
    const { managed, log } = recorded()
    await managed.open()
    expect(await closeBrokerConnections(connection.name)).toBe(1)
    await waitFor(() => log.join(',') === 'open,close,open', 'reopened after the reconnect')
    expect(connection.isConnected).toBe(true)
    await managed.close()
  })

  it('closes a channel whose setup failed and tries again after the pause', async () => {
    let attempts = 0
    const { managed, log } = recorded({
      setup: async () => {
        attempts += 1
        if (attempts === 1) throw new Error('queue not there yet')
      }
    })
    await managed.open()
    expect(managed.channel).toBeUndefined()
    await waitFor(() => log.includes('open'), 'second attempt')
    expect(attempts).toBe(2)
    await managed.close()
  })

  it('opens nothing while not wanted, and nothing after close()', async () => {
    let wanted = false
    const { managed, log } = recorded({ wanted: () => wanted })
    await managed.open()
    expect(managed.channel).toBeUndefined()
    wanted = true
    await managed.open()
    expect(log).toEqual(['open'])
    await managed.close()
    await managed.close()
    await managed.open()
    expect(managed.channel).toBeUndefined()
  })

  it('a close() during the open leaves no channel behind', async () => {
    const { managed } = recorded()
    const opening = managed.open()
    await managed.close()
    await opening
    expect(managed.channel).toBeUndefined()
  })

  it('under a Consumer: a queue deleted by an operator is declared again and consumed again', async () => {
    const got: string[] = []
    const consumer = new Consumer(connection, { queue: 'mail', handler: async (m) => void got.push(m.messageId) })
    await consumer.start()
    const channel = await raw.createChannel()
    // The broker cancels the consumer (basic.cancel); the consumer closes that channel and opens another.
    await channel.deleteQueue(connection.topology.queues.mail.name)
    await channel.close()
    await waitFor(() => !consumer.isConsuming, 'consumer cancelled')
    await waitFor(() => consumer.isConsuming, 'consuming again')
    // Straight into the queue: binding it to the main exchange again is the topology owner's job (the api's reconnect).
    const sender = await raw.createConfirmChannel()
    sender.sendToQueue(connection.topology.queues.mail.name, Buffer.from(JSON.stringify(welcome)),
      { messageId: 'after-delete', type: 'mail.welcome.v1', contentType: 'application/json', persistent: true })
    await sender.waitForConfirms()
    await sender.close()
    await waitFor(() => got.includes('after-delete'), 'message consumed from the re-declared queue')
    await consumer.stop(1000)
    await drain(raw, connection.topology.queues.mail.name)
  })
})
