import { once } from 'node:events'
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import type { ChannelModel, GetMessage } from 'amqplib'
import { connectAmqp, namespaceTag } from '@socialnet/testing'
import { BrokerConnection, deleteTopology, type BrokerConnectionOptions, type Topology } from '../src'

/** The local RabbitMQ the README's test line expects (tests never mock amqplib). */
export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'

/** Short retry delays so a test sees several attempts within a second. */
export const TEST_RETRY_DELAYS_MS = [50, 100, 200]

/** A random queue/exchange prefix: each test file gets its own topology. */
export function randomPrefix(): string {
  return `test-${namespaceTag()}.`
}

/** A BrokerConnection on its own prefix, named after it so the test can find it in rabbitmqctl. */
export function testConnection(prefix: string, options: Partial<BrokerConnectionOptions> = {}): BrokerConnection {
  return new BrokerConnection({
    url: AMQP_URL,
    name: `broker-test:${prefix}${randomBytes(2).toString('hex')}`,
    prefix,
    retryDelaysMs: TEST_RETRY_DELAYS_MS,
    reconnectMinMs: 50,
    reconnectMaxMs: 500,
    ...options
  })
}

/** A plain amqplib connection for the test's own look at queues (inspect, inject raw messages, clean up). */
export async function rawConnection(): Promise<ChannelModel> {
  return connectAmqp(AMQP_URL)
}

/** Deletes every queue and exchange of the prefix. */
export async function removeTopology(raw: ChannelModel, names: Topology): Promise<void> {
  const channel = await raw.createChannel()
  await deleteTopology(channel, names)
  await channel.close()
}

/** Reads (and acks) everything currently in a queue. */
export async function drain(raw: ChannelModel, queue: string): Promise<GetMessage[]> {
  const channel = await raw.createChannel()
  const out: GetMessage[] = []
  for (;;) {
    const message = await channel.get(queue, { noAck: true })
    if (message === false) break
    out.push(message)
  }
  await channel.close()
  return out
}

/** Number of ready messages in a queue. */
export async function depth(raw: ChannelModel, queue: string): Promise<number> {
  const channel = await raw.createChannel()
  const { messageCount } = await channel.checkQueue(queue)
  await channel.close()
  return messageCount
}

/**
 * A TCP hop to RabbitMQ that a test can freeze: `freeze()` stops forwarding
 * in both directions but keeps the sockets open, which is what a network
 * partition or a hung broker looks like (no reset, no reply, ever).
 */
export class FreezableProxy {
  private frozen = false
  private readonly sockets = new Set<Socket>()

  private constructor(private readonly server: Server) {}

  static async start(target = new URL(AMQP_URL)): Promise<FreezableProxy> {
    const server = createServer()
    const proxy = new FreezableProxy(server)
    server.on('connection', (client) => {
      const upstream = createConnection(Number(target.port || 5672), target.hostname)
      const forward = (from: Socket, to: Socket): void => {
        from.on('data', (chunk: Buffer) => {
          if (!proxy.frozen) to.write(chunk)
        })
        from.on('close', () => to.destroy())
        from.on('error', () => {})
        proxy.sockets.add(from)
        from.on('close', () => proxy.sockets.delete(from))
      }
      forward(client, upstream)
      forward(upstream, client)
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    return proxy
  }

  /** An AMQP URL through the proxy, with the test broker's credentials. */
  get url(): string {
    const url = new URL(AMQP_URL)
    url.hostname = '127.0.0.1'
    url.port = String((this.server.address() as AddressInfo).port)
    return url.toString()
  }

  freeze(): void {
    this.frozen = true
  }

  /** Drops every connection through the proxy and stops listening. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    await new Promise((resolve) => this.server.close(resolve))
  }
}
