import { request, type IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'

/** One event as the client parsed it off the wire. */
export interface SseEvent {
  id?: string
  event: string
  data: Record<string, any>
}

/**
 * Reads an SSE response over a real HTTP connection (inject does not
 * stream), the way a browser's fetch would: frames are split on blank lines,
 * `:` comments are counted, and every event is kept in order.
 */
export class SseClient {
  readonly events: SseEvent[] = []
  comments = 0
  bytes = 0
  ended = false
  private buffer = ''
  private waiters: Array<() => void> = []

  private constructor(readonly response: IncomingMessage) {
    response.setEncoding('utf8')
    response.on('data', (chunk: string) => {
      this.bytes += Buffer.byteLength(chunk)
      this.buffer += chunk
      let end: number
      while ((end = this.buffer.indexOf('\n\n')) >= 0) {
        const frame = this.buffer.slice(0, end)
        this.buffer = this.buffer.slice(end + 2)
        this.parse(frame)
      }
      this.wake()
    })
    const finish = (): void => { this.ended = true; this.wake() }
    response.on('end', finish)
    response.on('close', finish)
    response.on('error', finish)
  }

  /** Opens `path` on a listening app; resolves with the status and (for 200) a reading client. */
  static async open(app: FastifyInstance, path: string, headers: Record<string, string> = {}, opts: { paused?: boolean } = {}): Promise<{ status: number; client: SseClient; body?: any }> {
    const { port } = app.server.address() as AddressInfo
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, headers: { accept: 'text/event-stream', ...headers } }, resolve)
      req.on('error', reject)
      req.end()
    })
    if (response.statusCode !== 200) {
      const chunks: Buffer[] = []
      for await (const chunk of response) chunks.push(chunk as Buffer)
      const client = new SseClient(response)
      return { status: response.statusCode!, client, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }
    }
    const client = new SseClient(response)
    if (opts.paused) response.pause()
    return { status: 200, client }
  }

  /** Waits for the first event (from `from` on) matching `match`; the jest timeout bounds the wait. */
  async next(match: (e: SseEvent) => boolean, from = 0): Promise<SseEvent> {
    for (;;) {
      const found = this.events.slice(from).find(match)
      if (found) return found
      if (this.ended) throw new Error(`stream ended without the event; got ${JSON.stringify(this.events.map((e) => e.event))}`)
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
  }

  /** Resolves when the server has closed the stream. */
  async end(): Promise<void> {
    while (!this.ended) await new Promise<void>((resolve) => this.waiters.push(resolve))
  }

  /** Closes the connection from the client side. */
  close(): void {
    this.response.destroy()
  }

  private parse(frame: string): void {
    let id: string | undefined
    let event = 'message'
    let data = ''
    let isComment = true
    for (const line of frame.split('\n')) {
      if (line.startsWith(':')) continue
      isComment = false
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'id') id = value
      else if (field === 'event') event = value
      else if (field === 'data') data += value
    }
    if (isComment) { this.comments++; return }
    if (data === '') return
    this.events.push({ ...(id ? { id } : {}), event, data: JSON.parse(data) })
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter()
  }
}
