import type { BrokerConnection } from '../connection'
import { ManagedChannel } from '../managed-channel'
import { settledWithin, CHANNEL_CLOSE_TIMEOUT_MS } from '../settled-within'
import type { EmittedEvent, EventInput, EventService, EventType } from './event'
import type { EventOutlet } from './no-events'

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

interface Buffered {
  routingKey: string
  body: Buffer
}

/** Pause before reopening a channel the broker closed (exchange not declared yet, permission refused). */
const REOPEN_DELAY_MS = 2000

/**
 * Publishes events to the events exchange, fire and forget: `emit` never
 * waits and never throws. While the broker is away (or the channel pushes
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
  private readonly buffer: Buffered[] = []
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
    let body: Buffer
    try {
      body = Buffer.from(JSON.stringify(event))
    } catch {
      // Data that does not serialise (a cycle) is the emitting code's bug; never the work's problem.
      return this.drop(1)
    }
    this.buffer.push({ routingKey: type, body })
    if (this.buffer.length > this.maxBuffered) {
      this.buffer.shift()
      this.drop(1)
    }
    this.flush()
  }

  /** Sends what is buffered if the channel can take it now, then closes the channel. Idempotent; never throws. */
  async close(): Promise<void> {
    if (this.closed) return
    this.flush()
    this.closed = true
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

  private flush(): void {
    const channel = this.channels.channel?.channel
    while (channel && !this.blocked && !this.closed && this.buffer.length > 0) {
      const { routingKey, body } = this.buffer.shift()!
      try {
        const written = channel.publish(this.connection.topology.events.exchange, routingKey, body, {
          contentType: 'application/json',
          type: routingKey
        }, (err: unknown) => { if (err) this.drop(1) })
        if (!written) this.blocked = true
      } catch {
        // The channel closed under us; its 'close' handler reopens it.
        this.drop(1)
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
