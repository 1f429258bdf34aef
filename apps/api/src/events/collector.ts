import type { ConfirmChannel, ConsumeMessage } from 'amqplib'
import type { FastifyBaseLogger } from 'fastify'
import { ManagedChannel, type BrokerConnection, type Presence } from '@socialnet/broker'
import { parseEmittedEvent, type EventStore } from './event-store'

/** What the collector reports, for metrics. */
export interface CollectorObserver {
  collected(): void
  /** An event not stored: malformed, or Redis refused it. */
  discarded(): void
}

/** Events taken from the queue at once by one replica; each is one XADD in flight. */
const PREFETCH = 200
/** Length cap applied every this many appends (XTRIM MAXLEN ~). */
const TRIM_EVERY = 1000

/**
 * Moves events from the shared events queue into the Redis stream. Every
 * api replica runs one, as competing consumers on the one queue: each event
 * is stored once, by whichever replica took it, and every replica serves it
 * from the stream. An event is acked once stored; one Redis refuses is
 * acked too and counted (events are disposable: requeueing would spin while
 * Redis is away, and the queue's own length cap bounds the backlog).
 */
export class EventCollector {
  private readonly channels: ManagedChannel
  private started = false
  private appended = 0
  /** This replica's place in the events queue's presence (@socialnet/broker's OtherStacks), while its channel lives. */
  private presence: Presence | undefined

  constructor(
    private readonly connection: BrokerConnection,
    private readonly store: EventStore,
    private readonly log: FastifyBaseLogger,
    private readonly observer: CollectorObserver
  ) {
    this.channels = new ManagedChannel(connection, {
      role: 'events collector',
      wanted: () => this.started,
      setup: async ({ channel }) => {
        await channel.prefetch(PREFETCH)
        // The queue is declared with the topology on every connect (the api owns it).
        const { queue } = this.connection.topology.events
        // Another copy's api collecting these events would show them (and its replicas) as its own.
        this.leavePresence()
        this.presence = await this.connection.otherStacks?.join(() => this.connection.createChannel(), queue)
        await channel.consume(queue, (raw) => {
          if (raw) void this.collect(channel, raw)
        })
      },
      onClose: () => this.leavePresence()
    })
  }

  private leavePresence(): void {
    this.presence?.leave()
    this.presence = undefined
  }

  /** Starts consuming now if connected, and again after every reconnect. */
  start(): void {
    this.started = true
    void this.channels.open()
  }

  /** Stops consuming; unacked events go back to the queue for another replica. */
  async stop(): Promise<void> {
    await this.channels.close()
    this.leavePresence()
  }

  private async collect(channel: ConfirmChannel, raw: ConsumeMessage): Promise<void> {
    const body = raw.content.toString('utf8')
    const event = parseEmittedEvent(body)
    if (!event) {
      this.observer.discarded()
    } else if (event.type === 'replica.heartbeat' || event.type === 'replica.stopped') {
      // Kept out of the stream: a heartbeat only refreshes the replicas hash, so it costs no
      // client anything, and a replica that says goodbye leaves the list at once.
      await this.store.recordPresence(event).catch((err: unknown) => {
        this.observer.discarded()
        this.log.debug({ err }, 'events: could not record a heartbeat')
      })
    } else {
      try {
        await this.store.append(event, body)
        this.observer.collected()
        if (++this.appended % TRIM_EVERY === 0) await this.store.trim()
      } catch (err) {
        this.observer.discarded()
        this.log.debug({ err }, 'events: could not store an event')
      }
    }
    try {
      channel.ack(raw)
    } catch {
      // Channel gone: the broker hands the event to another replica.
    }
  }
}
