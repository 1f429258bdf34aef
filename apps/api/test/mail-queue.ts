import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib'
import { connectAmqp } from '@socialnet/testing'
import { declareTopology, deleteTopology, topology, type Topology } from '@socialnet/broker'

export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'

/** A random AMQP_PREFIX so each test file has its own exchange and queues. */
export function testPrefix(): string {
  return `test.${Math.random().toString(36).slice(2, 10)}.`
}

/** A received message, decoded. */
export interface Received {
  messageId: string
  type: string
  contentType: string
  persistent: boolean
  payload: Record<string, unknown>
}

/**
 * Reads the mail work queue of one prefix the way the mailer would (manual
 * ack), and deletes the prefix's whole topology on close. The queue is
 * declared up front, so nothing the api publishes before we listen is lost.
 */
export class MailQueueReader {
  readonly messages: Received[] = []
  private constructor(private readonly model: ChannelModel, private readonly channel: Channel, private readonly names: Topology) {}

  static async open(prefix: string): Promise<MailQueueReader> {
    const model = await connectAmqp(AMQP_URL)
    const channel = await model.createChannel()
    const names = await declareTopology(channel, topology(prefix))
    const reader = new MailQueueReader(model, channel, names)
    await channel.consume(names.queues.mail.name, (msg: ConsumeMessage | null) => {
      if (!msg) return
      reader.messages.push({
        messageId: String(msg.properties.messageId),
        type: String(msg.properties.type),
        contentType: String(msg.properties.contentType),
        persistent: msg.properties.deliveryMode === 2,
        payload: JSON.parse(msg.content.toString('utf8'))
      })
      channel.ack(msg)
    })
    return reader
  }

  /** Resolves once at least `count` messages arrived (the jest timeout bounds the wait). */
  async waitForCount(count: number): Promise<Received[]> {
    while (this.messages.length < count) await new Promise((resolve) => setTimeout(resolve, 20))
    return this.messages
  }

  async close(): Promise<void> {
    await deleteTopology(this.channel, this.names).catch(() => {})
    await this.model.close()
  }
}
