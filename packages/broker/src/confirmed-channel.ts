import { randomUUID } from 'node:crypto'
import type { ConfirmChannel, Message, Options } from 'amqplib'
import { ChannelClosedError, PublishNackedError, UnroutableMessageError } from './errors'

/** Header carrying a per-send id, so a basic.return is matched to exactly the publish it belongs to. */
export const PUBLISH_ID_HEADER = 'x-publish-id'

/** A send in progress: `written` is false when the socket buffer is full (wait for 'drain'). */
export interface Send {
  written: boolean
  confirmed: Promise<void>
}

/**
 * Wraps a confirm channel so each publish resolves only when the broker has
 * confirmed it AND routed it to a queue. Every publish is mandatory: RabbitMQ
 * sends basic.return before basic.ack for a message no queue took, so by the
 * time the ack arrives we know whether it was returned.
 */
export class ConfirmedChannel {
  private readonly returned = new Map<string, string>()

  constructor(readonly channel: ConfirmChannel) {
    channel.on('return', (message: Message) => {
      const id = message.properties.headers?.[PUBLISH_ID_HEADER]
      // basic.return carries replyCode/replyText, which amqplib's types omit.
      const fields = message.fields as unknown as { replyCode?: number; replyText?: string }
      if (typeof id === 'string') this.returned.set(id, `${fields.replyCode ?? ''} ${fields.replyText ?? ''}`.trim())
    })
  }

  /** Publishes persistently with confirms and mandatory; see Send. */
  send(exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Send {
    const id = randomUUID()
    let written = false
    const confirmed = new Promise<void>((resolve, reject) => {
      const headers = { ...(options.headers as Record<string, unknown> | undefined), [PUBLISH_ID_HEADER]: id }
      const onConfirm = (err: unknown): void => {
        const reason = this.returned.get(id)
        this.returned.delete(id)
        if (err) {
          // amqplib reports a broker nack as 'message nacked' and a channel
          // that closed with the message unconfirmed as 'channel closed'.
          reject(err instanceof Error && err.message === 'message nacked' ? new PublishNackedError() : new ChannelClosedError())
        } else if (reason !== undefined) {
          reject(new UnroutableMessageError(exchange, routingKey, reason))
        } else {
          resolve()
        }
      }
      try {
        written = this.channel.publish(exchange, routingKey, content, { ...options, headers, persistent: true, mandatory: true }, onConfirm)
      } catch (err) {
        // Publishing on a channel that already closed throws IllegalOperationError
        // synchronously; anything else (oversized headers) is the caller's error.
        const closed = err instanceof Error && err.name === 'IllegalOperationError'
        reject(closed ? new ChannelClosedError(err.message) : err)
      }
    })
    return { written, confirmed }
  }
}
