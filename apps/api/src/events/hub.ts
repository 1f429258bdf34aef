import type Redis from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import { toStored, type EventStore, type StoredEvent } from './event-store'

/** Someone who wants every event as it is read off the stream (an SSE connection). */
export interface Subscriber {
  deliver(event: StoredEvent): void
}

/** Entries read per XREAD; a burst is taken in chunks of this. */
const READ_COUNT = 500
/** How long one XREAD blocks; stopping does not wait for it (it disconnects). */
const BLOCK_MS = 5000
/** How long the reader stays after the last subscriber left: a client reconnecting at once (stream.end) does not restart it. */
export const HUB_LINGER_MS = 2000

/** One stretch of reading: from the first subscriber to the last one's leaving (and the linger). */
interface Run {
  stopped: boolean
  reader: Redis | undefined
  done: Promise<void>
}

/**
 * The one reader of the event stream in this replica: a loop of `XREAD
 * BLOCK` on its own Redis connection (a blocked connection can serve nothing
 * else), handing each event to every subscriber in memory. So a thousand
 * open streams cost one Redis reader, not a thousand; and no open stream
 * costs none: the loop and its connection exist only while a subscriber
 * does (and HUB_LINGER_MS after the last one left).
 *
 * A run starts at the stream's newest entry, read when the first subscriber
 * arrives, with the command queued at once on the shared connection: a
 * replay that subscriber then asks for on the same connection (XRANGE after
 * its Last-Event-ID) is answered after it, so it reaches at least that entry
 * and the live events start after it. The seam stays exact (pipe.ts). (Both
 * are plain commands, which the connection's automatic pipeline sends in the
 * order they were queued; an explicit pipeline such as the collector's
 * appends is written at once and may overtake them, which only moves where
 * the run starts.)
 */
export class EventHub {
  private readonly subscribers = new Set<Subscriber>()
  private position = '0-0'
  private closed = false
  private current: Run | undefined
  private lingering: NodeJS.Timeout | undefined

  constructor(
    private readonly redis: Redis,
    private readonly store: EventStore,
    private readonly log: FastifyBaseLogger,
    private readonly lingerMs = HUB_LINGER_MS
  ) {}

  /** The id of the last entry read and handed to every subscriber: a live stream has seen all it accepts up to here. */
  get lastId(): string {
    return this.position
  }

  /** Subscribers right now. */
  get size(): number {
    return this.subscribers.size
  }

  /** True while a reading loop runs (or its connection is still being closed). */
  get reading(): boolean {
    return this.current !== undefined
  }

  /** Adds a subscriber, starting the reader if it is the first; the returned function removes it. */
  subscribe(subscriber: Subscriber): () => void {
    this.subscribers.add(subscriber)
    clearTimeout(this.lingering)
    this.lingering = undefined
    if (!this.closed && (this.current === undefined || this.current.stopped)) this.current = this.startRun()
    return () => {
      if (!this.subscribers.delete(subscriber) || this.subscribers.size > 0 || this.closed) return
      clearTimeout(this.lingering)
      this.lingering = setTimeout(() => {
        this.lingering = undefined
        if (this.subscribers.size === 0) void this.stopRun()
      }, this.lingerMs)
      this.lingering.unref()
    }
  }

  /** Ends reading for good (the api closes); disconnecting the reader ends a blocked XREAD at once. */
  async stop(): Promise<void> {
    this.closed = true
    clearTimeout(this.lingering)
    this.subscribers.clear()
    await this.stopRun()
  }

  private startRun(): Run {
    const run: Run = { stopped: false, reader: undefined, done: Promise.resolve() }
    // Queued now, before the subscriber's replay (see the class comment).
    const newest = this.store.lastId()
    run.done = (async () => {
      try {
        this.position = await newest
      } catch (err) {
        // Redis away: read on from the last position known; a stream drops what it sent already.
        this.log.warn({ err: (err as Error).message }, 'events: could not read the stream\'s newest entry; reading on from the last one known')
      }
      if (run.stopped) return
      // maxRetriesPerRequest null: a blocked read must survive a reconnect rather than fail with it.
      const reader = this.redis.duplicate({ maxRetriesPerRequest: null, lazyConnect: false })
      reader.on('error', () => {})
      run.reader = reader
      try {
        await this.read(run, reader)
      } finally {
        reader.disconnect()
      }
    })()
    return run
  }

  private async stopRun(): Promise<void> {
    const run = this.current
    if (!run) return
    run.stopped = true
    run.reader?.disconnect()
    await run.done
    if (this.current === run) this.current = undefined
  }

  private async read(run: Run, reader: Redis): Promise<void> {
    let failing = false
    while (!run.stopped) {
      try {
        const result = await reader.xread('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', this.store.streamKey, this.position)
        failing = false
        // Stopped while blocked: what came is for the next run, which starts after the newest entry.
        if (run.stopped) break
        for (const [, entries] of result ?? []) {
          for (const [id, fields] of entries) {
            this.position = id
            const event = toStored(id, fields)
            if (event) this.fanOut(event)
          }
        }
      } catch (err) {
        if (run.stopped) break
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
