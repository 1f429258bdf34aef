import type Redis from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import { toStored, type EventStore, type StoredEvent } from './event-store'

/** Someone who wants every event as it is read off the stream (an SSE connection). */
export interface Subscriber {
  deliver(event: StoredEvent): void
}

/** Entries read per XREAD; a burst is taken in chunks of this. */
const READ_COUNT = 500
/** How long one XREAD blocks; stop() does not wait for it (it disconnects). */
const BLOCK_MS = 5000

/**
 * The one reader of the event stream in this replica: a loop of `XREAD
 * BLOCK` on its own Redis connection (a blocked connection can serve nothing
 * else; it is opened in start and closed in stop, here only), handing each
 * event to every subscriber in memory. So a thousand open streams cost one
 * Redis reader, not a thousand.
 */
export class EventHub {
  private readonly subscribers = new Set<Subscriber>()
  private position = '0-0'
  private stopped = false
  private loop: Promise<void> | undefined
  private reader: Redis | undefined

  constructor(
    private readonly redis: Redis,
    private readonly store: EventStore,
    private readonly log: FastifyBaseLogger
  ) {}

  /** The id of the last entry read and handed to every subscriber: a live stream has seen all it accepts up to here. */
  get lastId(): string {
    return this.position
  }

  /** Subscribers right now. */
  get size(): number {
    return this.subscribers.size
  }

  /** Starts reading after the newest entry (older ones are for replay). */
  async start(): Promise<void> {
    this.position = await this.store.lastId()
    // maxRetriesPerRequest null: a blocked read must survive a reconnect rather than fail with it.
    const reader = this.redis.duplicate({ maxRetriesPerRequest: null, lazyConnect: false })
    reader.on('error', () => {})
    this.reader = reader
    this.loop = this.run(reader)
  }

  /** Adds a subscriber; the returned function removes it. */
  subscribe(subscriber: Subscriber): () => void {
    this.subscribers.add(subscriber)
    return () => this.subscribers.delete(subscriber)
  }

  /** Ends the loop; disconnecting the reader ends a blocked XREAD at once. */
  async stop(): Promise<void> {
    this.stopped = true
    this.subscribers.clear()
    this.reader?.disconnect()
    await this.loop
  }

  private async run(reader: Redis): Promise<void> {
    let failing = false
    while (!this.stopped) {
      try {
        const result = await reader.xread('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', this.store.streamKey, this.position)
        failing = false
        for (const [, entries] of result ?? []) {
          for (const [id, fields] of entries) {
            this.position = id
            const event = toStored(id, fields)
            if (event) this.fanOut(event)
          }
        }
      } catch (err) {
        if (this.stopped) break
        if (!failing) this.log.warn({ err: (err as Error).message }, 'events: reading the event stream failed, retrying')
        failing = true
        await new Promise((resolve) => setTimeout(resolve, 1000).unref())
      }
    }
  }

  private fanOut(event: StoredEvent): void {
    for (const subscriber of this.subscribers) {
      try {
        subscriber.deliver(event)
      } catch (err) {
        this.log.error({ err }, 'events: a subscriber failed')
      }
    }
  }
}
