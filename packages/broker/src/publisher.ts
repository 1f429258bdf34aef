import { validateMessage, type MessagePayload, type MessageType } from '@socialnet/contracts'
import type { ConfirmChannel } from 'amqplib'
import type { BrokerConnection } from './connection'
import { ConfirmedChannel } from './confirmed-channel'
import { BrokerClosedError, ChannelClosedError, PublisherBufferFullError, PublishTimeoutError } from './errors'
import { CHANNEL_CLOSE_TIMEOUT_MS, settledWithin } from './settled-within'
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
  private channel: ConfirmedChannel | undefined
  private opening = false
  private blocked = false
  private closing = false
  private closed: Promise<void> | undefined
  private onDrained: (() => void) | undefined
  private readonly onConnected = (): void => void this.open()

  constructor(
    private readonly connection: BrokerConnection,
    options: PublisherOptions = {}
  ) {
    this.maxBuffered = options.maxBuffered ?? 1000
    this.timeoutMs = options.timeoutMs ?? 10_000
    connection.on('connected', this.onConnected)
    if (connection.isConnected) void this.open()
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
      this.connection.off('connected', this.onConnected)
      const channel = this.channel
      this.channel = undefined
      if (channel) await settledWithin(channel.channel.close(), CHANNEL_CLOSE_TIMEOUT_MS)
    })()
    return this.closed
  }

  private async open(): Promise<void> {
    if (this.opening || this.channel || !this.connection.isConnected) return
    if (this.closing && this.pending === 0) return
    this.opening = true
    let channel: ConfirmChannel | undefined
    try {
      channel = await this.connection.createChannel()
    } catch (err) {
      this.connection.log.warn({ err }, 'publisher cannot open a channel')
    } finally {
      this.opening = false
    }
    if (!channel) return
    if (this.closing && this.pending === 0) {
      // close() finished while the channel was opening: nothing left to send on it.
      await channel.close().catch(() => {})
      return
    }
    const confirmed = new ConfirmedChannel(channel)
    channel.on('error', (err: Error) => this.connection.log.warn({ err }, 'publisher channel error'))
    channel.on('drain', () => {
      this.blocked = false
      this.flush()
    })
    channel.on('close', () => this.drop(confirmed))
    this.channel = confirmed
    this.flush()
  }

  private flush(): void {
    while (this.channel && !this.blocked && this.waiting.length > 0) {
      const entry = this.waiting.shift()!
      if (entry.settled) continue
      const { request } = entry
      const channel = this.channel
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
            this.drop(channel)
            this.waiting.unshift(entry)
            this.flush()
          } else {
            this.settle(entry, err)
          }
        }
      )
    }
  }

  // Forgets a dead channel. One closed by the broker while the connection
  // stays up (an error on this channel) is reopened after a pause, not in a
  // hot loop; after a connection loss 'connected' reopens it.
  private drop(channel: ConfirmedChannel): void {
    if (this.channel !== channel) return
    this.channel = undefined
    this.blocked = false
    if (!this.closing || this.pending > 0) setTimeout(() => void this.open(), 1000).unref()
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
