import type { BrokerConnection } from '../connection'
import { ManagedChannel } from '../managed-channel'
import { settledWithin, CHANNEL_CLOSE_TIMEOUT_MS } from '../settled-within'
import type { EmittedEvent, EventInput, EventService, EventType } from './event'
import type { EventOutlet } from './no-events'
import { EVENT_BATCH_TYPE, eventBatchRoutingKey } from './batch'

/** Options of an EventPublisher. */
export interface EventPublisherOptions {
  service: EventService
  /** REPLICA_ID of this process (default: the hostname, set by each app's config). */
  replica: string
  /** Events held while the broker is away or the channel is busy; past it the oldest are dropped. */
  maxBuffered?: number
  /** Called for every event dropped (buffer overflow, broker nack, channel lost with it unconfirmed). */
  onDropped?: (count: number) => void
}

/** Pause before reopening a channel the broker closed (exchange not declared yet, permission refused). */
const REOPEN_DELAY_MS = 2000
/** Longest an event waits for others to share its message (while the channel takes it). */
export const EVENT_BATCH_MS = 20
/** Most events in one message; a full batch goes at once. */
export const EVENT_BATCH_MAX = 200

/**
 * Publishes events to the events exchange, fire and forget: `emit` never
 * waits and never throws. Events go in batches: one message (an array, AMQP
 * type EVENT_BATCH_TYPE, routing key `batch.<service>`) carries what was
 * emitted within EVENT_BATCH_MS, at most EVENT_BATCH_MAX events, in the
 * order they were emitted; a mail's events cost one publish (and confirm)
 * per batch instead of one each. While the broker is away (or the channel pushes
 * back) events wait in a bounded buffer; overflow drops the oldest and is
 * counted. The events exchange is the api's (declared with its topology):
 * the channel only checks that it exists (a passive declare, which needs no
 * configure permission, so the mailer and worker users may publish to it
 * and nothing more). Until it exists, or while the broker refuses the
 * channel, events wait in the buffer, a warning is logged once, and the
 * check is retried every few seconds; the work goes on regardless.
 */
export class EventPublisher implements EventOutlet {
  private readonly maxBuffered: number
  /** Serialised events, oldest first. */
  private readonly buffer: string[] = []
  private readonly routingKey: string
  private timer: NodeJS.Timeout | undefined
  private readonly channels: ManagedChannel
  private blocked = false
  private closed = false
  private failing = false
  private droppedCount = 0

  constructor(
    private readonly connection: BrokerConnection,
    private readonly options: EventPublisherOptions
  ) {
    this.maxBuffered = options.maxBuffered ?? 1000
    this.routingKey = eventBatchRoutingKey(options.service)
    this.channels = new ManagedChannel(connection, {
      role: 'event publisher',
      wanted: () => !this.closed,
      reopenDelayMs: REOPEN_DELAY_MS,
      setup: async ({ channel }) => {
        channel.on('drain', () => {
          this.blocked = false
          this.flush()
        })
        await channel.checkExchange(this.connection.topology.events.exchange)
      },
      onOpen: () => {
        if (this.failing) this.connection.log.info({}, 'event channel open again')
        this.failing = false
        this.blocked = false
        this.flush()
      },
      onError: (err, what) => this.warn(err, what === 'channel error'
        ? 'event channel error'
        : 'cannot publish events yet (is the events exchange declared? the api declares it); they wait in a bounded buffer')
    })
    void this.channels.open()
  }

  /** Events dropped since start. */
  get dropped(): number {
    return this.droppedCount
  }

  /** Events waiting for the broker. */
  get buffered(): number {
    return this.buffer.length
  }

  /** True while events wait because there is no channel to publish on (the broker is away, or the exchange is not declared yet). */
  get stalled(): boolean {
    return this.buffer.length > 0 && this.channels.channel === undefined
  }

  /** Queues one event for publishing; returns at once. */
  emit(type: EventType, input: EventInput): void {
    if (this.closed) return
    const event: EmittedEvent = {
      type,
      at: new Date().toISOString(),
      service: this.options.service,
      replica: this.options.replica,
      subject: input.subject,
      ...(input.userId ? { userId: input.userId } : {}),
      data: input.data
    }
    let body: string
    try {
      body = JSON.stringify(event)
    } catch {
      // Data that does not serialise (a cycle) is the emitting code's bug; never the work's problem.
      return this.drop(1)
    }
    this.buffer.push(body)
    if (this.buffer.length > this.maxBuffered) {
      this.buffer.shift()
      this.drop(1)
    }
    if (this.buffer.length >= EVENT_BATCH_MAX) this.flush()
    else this.timer ??= setTimeout(() => this.flush(), EVENT_BATCH_MS).unref()
  }

  /** Sends what is buffered if the channel can take it now, then closes the channel. Idempotent; never throws. */
  async close(): Promise<void> {
    if (this.closed) return
    this.flush()
    this.closed = true
    clearTimeout(this.timer)
    await this.channels.hold(0)
    if (this.buffer.length > 0) this.drop(this.buffer.splice(0).length)
    // Confirms of the last events arrive before close-ok; bounded like every close.
    const confirmed = this.channels.channel
    if (confirmed) await settledWithin(confirmed.channel.waitForConfirms().catch(() => {}), CHANNEL_CLOSE_TIMEOUT_MS)
    await this.channels.close()
  }

  private drop(count: number): void {
    this.droppedCount += count
    this.options.onDropped?.(count)
  }

  /** Publishes what waits, a batch per message, while the channel takes it; what is left goes on 'drain' or the next open. */
  private flush(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    const channel = this.channels.channel?.channel
    while (channel && !this.blocked && !this.closed && this.buffer.length > 0) {
      const batch = this.buffer.splice(0, EVENT_BATCH_MAX)
      try {
        const written = channel.publish(this.connection.topology.events.exchange, this.routingKey, Buffer.from(`[${batch.join(',')}]`), {
          contentType: 'application/json',
          type: EVENT_BATCH_TYPE
        }, (err: unknown) => { if (err) this.drop(batch.length) })
        if (!written) this.blocked = true
      } catch {
        // The channel closed under us; its 'close' handler reopens it.
        this.drop(batch.length)
        return
      }
    }
  }

  // One line per streak of failures: a missing permission must not flood the log every second.
  private warn(err: unknown, message: string): void {
    if (this.failing) return
    this.failing = true
    if ((err as { code?: unknown }).code === 404) {
      // The events exchange is not there yet: a mailer or worker started before the first api,
      // which declares it. Nothing is wrong, so no warning and no stack trace.
      this.connection.log.info({ exchange: this.connection.topology.events.exchange }, 'waiting for the api to declare the events exchange; events wait in a bounded buffer')
      return
    }
    this.connection.log.warn({ err }, message)
  }
}
