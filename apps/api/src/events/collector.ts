import type { ConfirmChannel, ConsumeMessage } from 'amqplib'
import type { FastifyBaseLogger } from 'fastify'
import { EVENT_BATCH_TYPE, ManagedChannel, batchService, eventsOfMessage, mayEmit, type BrokerConnection, type EmittedEvent, type Presence } from '@socialnet/broker'
import { checkEmittedEvent, type EventStore } from './event-store'

/** What the collector reports, for metrics. */
export interface CollectorObserver {
  collected(): void
  /** An event not stored: malformed, or Redis refused it. */
  discarded(): void
}

/** Messages taken from the queue at once (a batch of events each); at most this many make one group, one Redis pipeline. */
const PREFETCH = 50
/** Length cap applied every this many appends (XTRIM MAXLEN ~). */
const TRIM_EVERY = 1000

/**
 * Moves events from the shared events queue into the Redis stream. Every
 * api replica runs one on the one queue, which is single-active-consumer:
 * one replica collects at a time, in the queue's order, and the broker hands
 * the queue to another replica's consumer when its channel goes. Each event
 * is stored once and every replica serves it from the stream. Messages are
 * acked once stored; an event Redis refuses is acked too and counted (events
 * are disposable: requeueing would spin while Redis is away, and the queue's
 * own length cap bounds the backlog).
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
        // One group in flight at a time: what arrives meanwhile (up to PREFETCH messages) is the next
        // group, one Redis round trip and one ack for all of it. Under load the groups grow by themselves.
        const inbox: ConsumeMessage[] = []
        let busy = false
        const pump = async (): Promise<void> => {
          while (inbox.length > 0) await this.collect(channel, inbox.splice(0))
          busy = false
        }
        await channel.consume(queue, (raw) => {
          if (!raw) return
          inbox.push(raw)
          if (busy) return
          busy = true
          // The messages of one read off the socket are delivered in one go: wait for them all.
          setImmediate(() => void pump())
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

  /** Stores the events of a group of messages (in the order taken) and acks them all. Never throws. */
  private async collect(channel: ConfirmChannel, group: ConsumeMessage[]): Promise<void> {
    const toStore: { event: EmittedEvent; body: string }[] = []
    const presences: EmittedEvent[] = []
    let discarded = 0
    for (const raw of group) {
      for (const { event, body } of this.eventsOf(raw)) {
        if (!event) discarded++
        // Kept out of the stream: a heartbeat only refreshes the replicas hash, so it costs no
        // client anything, and a replica that says goodbye leaves the list at once.
        else if (event.type === 'replica.heartbeat' || event.type === 'replica.stopped') presences.push(event)
        else toStore.push({ event, body })
      }
    }
    // Issued before the heartbeats are recorded: the stream's order is the queue's.
    const appending = this.store.appendMany(toStore)
    // Awaited below, after the heartbeats: a failure meanwhile must not count as unhandled.
    appending.catch(() => {})
    for (const event of presences) {
      await this.store.recordPresence(event).catch((err: unknown) => {
        discarded++
        this.log.debug({ err }, 'events: could not record a heartbeat')
      })
    }
    if (toStore.length > 0) {
      try {
        // One round trip for the whole group, in its order (the order each subject's events were emitted in).
        const results = await appending
        for (const result of results) {
          if (result instanceof Error) discarded++
          else this.observer.collected()
        }
        const before = this.appended
        this.appended += toStore.length
        if (Math.floor(before / TRIM_EVERY) !== Math.floor(this.appended / TRIM_EVERY)) await this.store.trim()
      } catch (err) {
        discarded += toStore.length
        this.log.debug({ err }, 'events: could not store events')
      }
    }
    for (let i = 0; i < discarded; i++) this.observer.discarded()
    try {
      // Every message up to the group's last: the groups go one at a time, so all before it are done.
      channel.ack(group[group.length - 1]!, true)
    } catch {
      // Channel gone: the broker hands the messages to another replica.
    }
  }

  /**
   * The events of one message, each checked (undefined: not stored, counted): a batch's (routing key
   * `batch.<service>`) must be of that service and of a type it emits, as the broker's per-type
   * permissions ensured for single events, which an older publisher still sends (routing key = type).
   */
  private eventsOf(raw: ConsumeMessage): { event: EmittedEvent | undefined; body: string }[] {
    let items: unknown[]
    try {
      items = eventsOfMessage(raw)
    } catch {
      return [{ event: undefined, body: '' }]
    }
    if (raw.properties.type !== EVENT_BATCH_TYPE) {
      return [{ event: checkEmittedEvent(items[0]), body: raw.content.toString('utf8') }]
    }
    const service = batchService(raw.fields.routingKey)
    if (items.length === 0) return [{ event: undefined, body: '' }]
    return items.map((item) => {
      const event = checkEmittedEvent(item)
      const own = event !== undefined && event.service === service && mayEmit(service, event.type)
      return own ? { event, body: JSON.stringify(event) } : { event: undefined, body: '' }
    })
  }
}
