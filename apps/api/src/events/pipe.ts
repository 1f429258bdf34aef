import type { FastifyBaseLogger } from 'fastify'
import type { EmittedEvent } from '@socialnet/broker'
import { compareIds, type EventStore, type StoredEvent } from './event-store'
import type { EventHub } from './hub'
import type { SseStream } from './sse-stream'

/** Entries read per XRANGE while replaying. */
const REPLAY_PAGE = 500
/** Live events held while a replay runs; a replay that falls this far behind drops the client. */
const MAX_HELD = 10_000

/** What one stream shows and where it starts. */
export interface PipeOptions {
  stream: SseStream
  hub: EventHub
  store: EventStore
  /** Which events this stream shows. */
  accept: (event: EmittedEvent) => boolean
  /** From the client's Last-Event-ID: replay every accepted event after it first. */
  after?: string
  /** Replay from this user's own stream (every event the stream accepts belongs to them): a replay costs their events, not everyone's. */
  owner?: string
  /**
   * The job's current status: sent first on a new stream, `final` ending it. A resumed
   * stream replays the changes instead, and uses it only to end a job that ended before the window.
   */
  prelude?: () => Promise<{ type: string; json: string; final: boolean } | undefined>
  /** Closes the stream after an event it shows (a job's terminal status). */
  endsWith?: (event: EmittedEvent) => boolean
  /** The request's logger: a failure after the response started can only be logged. */
  log: FastifyBaseLogger
}

/**
 * Feeds a stream without a gap or a duplicate at the seam between replay
 * and live: it subscribes first and holds live events while it replays from
 * the stream (XRANGE after the client's id), then sends the held ones it has
 * not sent yet, then goes live. Ids are stream positions, so "not sent yet"
 * is "greater than the last id sent".
 */
export async function pipeEvents(opts: PipeOptions): Promise<void> {
  try {
    await feed(opts)
  } catch (err) {
    // The 200 and some events are out already: no error reply is possible. Closing lets the
    // client reconnect with its Last-Event-ID, which loses nothing.
    opts.log.warn({ err }, 'events: stream failed; closing it')
    opts.stream.close()
  }
}

async function feed(opts: PipeOptions): Promise<void> {
  const { stream, accept } = opts
  let held: StoredEvent[] | undefined = []
  let lastSent = opts.after
  const send = (entry: StoredEvent): void => {
    if (!stream.isOpen || !accept(entry.event)) return
    if (lastSent !== undefined && compareIds(entry.id, lastSent) <= 0) return
    lastSent = entry.id
    stream.send(entry.event.type, entry.json, entry.id)
    if (opts.endsWith?.(entry.event)) stream.close()
  }
  const unsubscribe = opts.hub.subscribe({
    deliver(entry) {
      if (held === undefined) return send(entry)
      if (!accept(entry.event)) return
      if (held.length >= MAX_HELD) return stream.drop('replay fell too far behind the live events')
      held.push(entry)
    }
  })
  stream.onClose(unsubscribe)
  // Live, the stream has been offered every event up to the hub's position; while replaying, only up to what it sent.
  stream.resumePoint = () => {
    if (held !== undefined) return lastSent
    const live = opts.hub.lastId
    return lastSent !== undefined && compareIds(lastSent, live) > 0 ? lastSent : live
  }

  if (opts.after === undefined) {
    const first = await opts.prelude?.()
    if (first && stream.isOpen) {
      stream.send(first.type, first.json)
      if (first.final) return stream.close()
    }
  } else {
    await replay(opts, opts.after, send)
    if (!stream.isOpen) return
  }
  const pending = held
  held = undefined
  for (const entry of pending) send(entry)
  // A resumed stream replays the changes instead of the current status; but if the end
  // itself is older than the replay window, say it now rather than never.
  if (opts.after !== undefined && stream.isOpen && opts.prelude) {
    const now = await opts.prelude()
    if (now?.final && stream.isOpen) {
      stream.send(now.type, now.json)
      stream.close()
    }
  }
}

/** Sends every stored event after `after`, page by page, at the client's pace. */
async function replay(opts: PipeOptions, after: string, send: (entry: StoredEvent) => void): Promise<void> {
  const { stream } = opts
  let cursor = after
  for (;;) {
    const page = await opts.store.after(cursor, REPLAY_PAGE, opts.owner)
    for (const entry of page) {
      send(entry)
      // The backlog bound is for live events, not for catching up.
      if (stream.crowded) await stream.drained()
      if (!stream.isOpen) return
    }
    if (page.length < REPLAY_PAGE) return
    cursor = page[page.length - 1]!.id
  }
}
