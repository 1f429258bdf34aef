import { validateMessage, type MessagePayload, type MessageType } from '@socialnet/contracts'
import type { BrokerConnection } from './connection'
import { BrokerClosedError, ChannelClosedError, PublisherBufferFullError, PublishTimeoutError } from './errors'
import { ManagedChannel } from './managed-channel'
import { PUBLISHED_AT_HEADER } from './events/event'

/** One message to publish. The payload is validated against its contract before it is sent. */
export interface PublishRequest<T extends MessageType = MessageType> {
  type: T
  payload: MessagePayload<T>
  /** Stable id of this message (consumers dedupe on it); reuse it when re-publishing the same message. */
  messageId: string
  /** Defaults to the type, which the topology binds to the right work queue. */
  routingKey?: string
  headers?: Record<string, unknown>
  /** When the message was created (AMQP timestamp); defaults to now. */
  timestamp?: Date
}

/** Options of a Publisher. */
export interface PublisherOptions {
  /** Most messages held (waiting for a connection or for their confirm) before publish() rejects at once. */
  maxBuffered?: number
  /** A publish not confirmed within this many ms rejects; the message may still arrive (at-least-once). */
  timeoutMs?: number
}

interface Pending {
  routingKey: string
  body: Buffer
  request: PublishRequest
  resolve: () => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
  settled: boolean
}

/**
 * Publishes messages with publisher confirms. While the broker is away,
 * messages wait in a bounded buffer and are sent once the connection is
 * back; a message whose channel closed before its confirm is sent again
 * (a duplicate, same messageId, is possible; a silent loss is not). Each
 * publish either resolves after the broker confirmed and routed it, or
 * rejects: buffer full, timeout, nack, or unroutable.
 */
export class Publisher {
  private readonly maxBuffered: number
  private readonly timeoutMs: number
  private readonly waiting: Pending[] = []
  private readonly inFlight = new Set<Pending>()
  private readonly channels: ManagedChannel
  private blocked = false
  private closing = false
  private closed: Promise<void> | undefined
  private onDrained: (() => void) | undefined

  constructor(
    private readonly connection: BrokerConnection,
    options: PublisherOptions = {}
  ) {
    this.maxBuffered = options.maxBuffered ?? 1000
    this.timeoutMs = options.timeoutMs ?? 10_000
    this.channels = new ManagedChannel(connection, {
      role: 'publisher',
      // A closing publisher still needs a channel for the messages it holds.
      wanted: () => !this.closing || this.pending > 0,
      onOpen: ({ channel }) => {
        channel.on('drain', () => {
          this.blocked = false
          this.flush()
        })
        this.flush()
      },
      onClose: () => (this.blocked = false)
    })
    void this.channels.open()
  }

  /** Number of messages buffered or awaiting their confirm. */
  get pending(): number {
    return this.waiting.length + this.inFlight.size
  }

  /** Resolves once the broker confirmed the message; see the class comment for the failure cases. */
  publish<T extends MessageType>(request: PublishRequest<T>): Promise<void> {
    if (this.closing) return Promise.reject(new BrokerClosedError('publisher'))
    if (this.pending >= this.maxBuffered) return Promise.reject(new PublisherBufferFullError(this.maxBuffered))
    let body: Buffer
    try {
      validateMessage(request.type, request.payload)
      body = Buffer.from(JSON.stringify(request.payload))
    } catch (err) {
      return Promise.reject(err)
    }
    return new Promise<void>((resolve, reject) => {
      const entry: Pending = {
        routingKey: request.routingKey ?? request.type,
        body,
        request: request as PublishRequest,
        resolve,
        reject,
        settled: false,
        timer: setTimeout(() => this.settle(entry, new PublishTimeoutError(this.timeoutMs)), this.timeoutMs)
      }
      this.waiting.push(entry)
      this.flush()
    })
  }

  /**
   * Stops accepting messages, waits until every pending one is confirmed or
   * timed out (each has its own deadline; a reconnect meanwhile still sends
   * them), then closes the channel. Idempotent.
   */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true
      if (this.pending > 0) await new Promise<void>((resolve) => (this.onDrained = resolve))
      await this.channels.close()
    })()
    return this.closed
  }

  private flush(): void {
    for (let channel = this.channels.channel; channel && !this.blocked && this.waiting.length > 0; channel = this.channels.channel) {
      const entry = this.waiting.shift()!
      if (entry.settled) continue
      const { request } = entry
      const send = channel.send(this.connection.topology.exchange, entry.routingKey, entry.body, {
        messageId: request.messageId,
        type: request.type,
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        timestamp: Math.floor((request.timestamp ?? new Date()).getTime() / 1000),
        // Millisecond publish time: consumers report how long a message queued (the AMQP timestamp has whole seconds).
        headers: { ...request.headers, [PUBLISHED_AT_HEADER]: Date.now() }
      })
      this.inFlight.add(entry)
      if (!send.written) this.blocked = true
      send.confirmed.then(
        () => this.settle(entry),
        (err: Error) => {
          this.inFlight.delete(entry)
          if (err instanceof ChannelClosedError && !entry.settled) {
            // Unknown whether it arrived: send it again on the next channel,
            // and never on this one again (it would fail the same way at once).
            this.channels.drop(channel)
            this.waiting.unshift(entry)
            this.flush()
          } else {
            this.settle(entry, err)
          }
        }
      )
    }
  }

  private settle(entry: Pending, err?: Error): void {
    if (entry.settled) return
    entry.settled = true
    clearTimeout(entry.timer)
    this.inFlight.delete(entry)
    const index = this.waiting.indexOf(entry)
    if (index >= 0) this.waiting.splice(index, 1)
    if (err) entry.reject(err)
    else entry.resolve()
    if (this.pending === 0) this.onDrained?.()
  }
}
