import type { FastifyReply } from 'fastify'

/** Limits of one event stream. */
export interface SseLimits {
  /** Bytes that may wait in the socket; past it the client is too slow and is dropped. */
  maxBufferedBytes: number
  heartbeatMs: number
  /** This replica's REPLICA_ID, in the `stream.dropped` event. */
  replica: string
}

/** How long a dropped or closed stream may take to flush its last bytes before the socket is destroyed. */
const LINGER_MS = 2000

/**
 * One Server-Sent Events response, written by hand over the raw socket
 * (reply.hijack): the stream must watch its own socket's backlog, which a
 * plugin's stream abstraction hides (see docs/events.md). `send` never
 * queues more than maxBufferedBytes: a client that reads slower than events
 * arrive gets `stream.dropped` and is closed, so memory per client is bounded.
 */
export class SseStream {
  private closed = false
  private readonly heartbeat: NodeJS.Timeout
  private readonly closeListeners: Array<() => void> = []

  constructor(private readonly reply: FastifyReply, private readonly limits: SseLimits, requestId: string) {
    reply.hijack()
    const raw = reply.raw
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store, no-transform',
      // nginx: pass each event on at once instead of buffering the response.
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
      'x-request-id': requestId
    })
    raw.flushHeaders()
    // Tells EventSource how long to wait before reconnecting.
    raw.write('retry: 2000\n\n')
    this.heartbeat = setInterval(() => this.write(': ping\n\n'), limits.heartbeatMs)
    this.heartbeat.unref()
    raw.on('close', () => this.finish())
    // A client gone while the route's hooks ran: its 'close' has already fired.
    if (raw.destroyed || reply.request.raw.destroyed) this.finish()
  }

  /** False once the stream is closed (by either side). */
  get isOpen(): boolean {
    return !this.closed
  }

  /** Runs `listener` once when the stream ends, whoever ended it. */
  onClose(listener: () => void): void {
    if (this.closed) listener()
    else this.closeListeners.push(listener)
  }

  /** Sends one event; `id` (a stream entry id) lets the client resume after it. False if the stream is (now) closed. */
  send(type: string, json: string, id?: string): boolean {
    return this.write(`${id ? `id: ${id}\n` : ''}event: ${type}\ndata: ${json}\n\n`)
  }

  /** True when the socket pushes back or half the allowed backlog is waiting: a sender that can wait (a replay) should. */
  get crowded(): boolean {
    const raw = this.reply.raw
    return raw.writableNeedDrain || raw.writableLength > this.limits.maxBufferedBytes / 2
  }

  /** Resolves when the socket has taken what was waiting (or the stream closed). */
  drained(): Promise<void> {
    const raw = this.reply.raw
    if (this.closed || raw.writableLength === 0) return Promise.resolve()
    // Under the socket's high-water mark no 'drain' comes: give the socket a moment instead.
    if (!raw.writableNeedDrain) return new Promise((resolve) => setTimeout(resolve, 10))
    return new Promise((resolve) => {
      const done = (): void => {
        raw.off('drain', done)
        const at = this.closeListeners.indexOf(done)
        if (at !== -1) this.closeListeners.splice(at, 1)
        resolve()
      }
      raw.once('drain', done)
      this.onClose(done)
    })
  }

  /** Ends the stream: optionally one last event first (`stream.dropped`), then the socket closes. */
  close(last?: { type: string; json: string; id?: string }): void {
    if (this.closed) return
    const raw = this.reply.raw
    if (last) raw.write(`${last.id ? `id: ${last.id}\n` : ''}event: ${last.type}\ndata: ${last.json}\n\n`)
    raw.end()
    // A client that stopped reading would hold the socket (and its buffer) forever.
    setTimeout(() => raw.destroy(), LINGER_MS).unref()
    this.finish()
  }

  private write(chunk: string): boolean {
    if (this.closed) return false
    const raw = this.reply.raw
    if (raw.writableLength > this.limits.maxBufferedBytes) {
      this.drop(`client too slow: more than ${this.limits.maxBufferedBytes} bytes waiting`)
      return false
    }
    raw.write(chunk)
    return true
  }

  /**
   * Where a client resuming after this stream should start (set by the feed: the last
   * position it has covered). `end` sends it, so even a client that got no event yet
   * resumes without a gap.
   */
  resumePoint: (() => string | undefined) | undefined

  /**
   * Ends the stream on purpose (its lifetime is over): a last `stream.end` event carries
   * the id to resume from; the client reconnects with it as Last-Event-ID and misses nothing.
   */
  end(reason: string): void {
    if (this.closed) return
    const id = this.resumePoint?.()
    const event = { type: 'stream.end', at: new Date().toISOString(), service: 'api', replica: this.limits.replica, subject: 'stream', data: { reason } }
    this.close({ type: 'stream.end', json: JSON.stringify(event), id })
  }

  /** True when the stream was closed because the client could not keep up. */
  dropped = false

  /** Closes the stream because the client cannot keep up, telling it why (`stream.dropped`). */
  drop(reason: string): void {
    if (this.closed) return
    this.dropped = true
    const event = { type: 'stream.dropped', at: new Date().toISOString(), service: 'api', replica: this.limits.replica, subject: 'stream', data: { reason } }
    this.close({ type: 'stream.dropped', json: JSON.stringify(event) })
  }

  private finish(): void {
    if (this.closed) return
    this.closed = true
    clearInterval(this.heartbeat)
    for (const listener of this.closeListeners.splice(0)) listener()
  }
}
