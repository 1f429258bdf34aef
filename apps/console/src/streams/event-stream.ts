import { EventSourceParserStream } from 'eventsource-parser/stream'
import { authHeaders } from '../api/client'
import type { AnyEvent } from '../events/types'

/** Where a stream is: shown next to every live list. */
export type StreamState =
  | { kind: 'connecting' }
  | { kind: 'open' }
  | { kind: 'retrying'; reason: string; inMs: number }
  | { kind: 'ended' }
  | { kind: 'failed'; status: number; message: string }

export interface EventStreamOptions {
  /** An SSE route: `/v1/events`, `/v1/jobs/{id}/events`, `/v1/admin/events`. */
  path: string
  onEvent: (event: AnyEvent) => void
  onState?: (state: StreamState) => void
  /** Stops the stream (unmount, log out). */
  signal: AbortSignal
  /**
   * Where to start: `Last-Event-ID` of the first request. `0` asks for every
   * event the server still keeps (the last 10 minutes); unset, only new ones.
   */
  since?: string
  /**
   * An event after which the server ends the stream on purpose (a job's
   * final status): a stream that ends after one is not reopened. Any other
   * end (a replica shutting down, a dropped slow client, a stream at its
   * maximum lifetime) reconnects with Last-Event-ID, as for a broken connection.
   */
  isLast?: (event: AnyEvent) => boolean
}

const FIRST_RETRY_MS = 1000
const MAX_RETRY_MS = 15_000

/** Statuses that a retry cannot change: the stream ends with the server's message. */
const FINAL_STATUSES = new Set([400, 401, 403, 404, 410])

/** The api runs with EVENTS=off: a 503 no retry changes, and whose body says only "Service Unavailable". */
const EVENTS_OFF_MESSAGE = 'live events are turned off on this server (EVENTS=off); everything else works, without live updates'

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
  })
}

/**
 * Reads a Server-Sent Events stream with `fetch` (a browser's EventSource
 * cannot send the `Authorization` header), parsing it with
 * eventsource-parser. On a dropped connection it reconnects after a growing
 * pause (or the server's `retry:`), sending `Last-Event-ID` so that no event
 * is missed. Resolves when the stream is aborted, ends on purpose, or fails
 * for good (401/403/404, or 503 EVENTS_OFF: the api runs without events).
 */
export async function readEventStream(options: EventStreamOptions): Promise<void> {
  const { signal } = options
  const report = (state: StreamState) => { if (!signal.aborted) options.onState?.(state) }
  let lastEventId = options.since
  let retryMs = FIRST_RETRY_MS
  let serverRetryMs: number | undefined
  while (!signal.aborted) {
    report({ kind: 'connecting' })
    let failure: string
    try {
      const response = await fetch(options.path, {
        headers: {
          accept: 'text/event-stream',
          ...authHeaders(),
          ...(lastEventId !== undefined ? { 'last-event-id': lastEventId } : {})
        },
        cache: 'no-store',
        signal
      })
      if (!response.ok || !response.body) {
        const body = (await response.json().catch(() => undefined)) as { error?: string; message?: string } | undefined
        if (body?.error === 'EVENTS_OFF') {
          report({ kind: 'failed', status: response.status, message: EVENTS_OFF_MESSAGE })
          return
        }
        const message = body?.message ?? `the server answered ${response.status}`
        if (FINAL_STATUSES.has(response.status)) {
          report({ kind: 'failed', status: response.status, message })
          return
        }
        failure = message
      } else {
        report({ kind: 'open' })
        retryMs = FIRST_RETRY_MS
        const messages = response.body
          .pipeThrough(new TextDecoderStream())
          .pipeThrough(new EventSourceParserStream({ onRetry: (ms) => { serverRetryMs = ms } }))
          .getReader()
        let sawLast = false
        let renewed = false
        for (;;) {
          const { done, value } = await messages.read()
          if (done) break
          if (value.id) lastEventId = value.id
          // The server ends a stream at its maximum lifetime: `stream.end` carries the id to resume
          // from (even when no event came before it); reconnect at once, as nothing went wrong.
          if (value.event === 'stream.end') {
            renewed = true
            continue
          }
          let event: AnyEvent
          try {
            event = JSON.parse(value.data) as AnyEvent
          } catch {
            // One malformed event is skipped; the stream goes on.
            continue
          }
          sawLast = options.isLast?.(event) ?? false
          options.onEvent(event)
        }
        if (sawLast) {
          report({ kind: 'ended' })
          return
        }
        if (renewed) continue
        failure = 'the server closed the stream'
      }
    } catch (err) {
      if (signal.aborted) return
      failure = (err as Error).message || 'the connection broke'
    }
    const wait = serverRetryMs ?? retryMs
    report({ kind: 'retrying', reason: failure, inMs: wait })
    await sleep(wait, signal)
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS)
  }
}
