import { Client } from 'pg'
import type { FastifyBaseLogger } from 'fastify'

export interface OutboxListenerOptions {
  /** For the dedicated connection: a pooled client cannot hold LISTEN. */
  databaseUrl: string
  log: FastifyBaseLogger
  /** A NOTIFY on channel 'outbox' arrived (the insert trigger sends one at each commit). */
  onNotification: () => void
  /**
   * LISTEN is in place, the first time or after a reconnect. NOTIFYs sent
   * while nobody listened went into the void, so whatever they announced
   * may be waiting.
   */
  onConnected: () => void
}

const RETRY_FIRST_MS = 1000
const RETRY_MAX_MS = 30_000

/**
 * Holds one connection that LISTENs on channel 'outbox'. When it fails to
 * open or is lost, it retries with a doubling delay (up to 30 s), back to 1 s
 * once connected; meanwhile the relay's safety poll covers the gap. It knows
 * nothing of the relay: it only reports notifications and (re)connections.
 */
export class OutboxListener {
  private readonly opts: OutboxListenerOptions
  private stopped = false
  private client: Client | undefined
  private attempt: Promise<void> | undefined
  private retryMs = RETRY_FIRST_MS
  private retryTimer: NodeJS.Timeout | undefined

  constructor(opts: OutboxListenerOptions) {
    this.opts = opts
  }

  /** Resolves once the first attempt succeeded or failed (then retries run in the background); never throws. */
  async start(): Promise<void> {
    this.attempt = this.listen()
    await this.attempt
  }

  /** Cancels a pending retry, lets an attempt under way finish, and closes the connection. */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.retryTimer)
    await this.attempt
    const client = this.client
    this.client = undefined
    await client?.end().catch(() => {})
  }

  private async listen(): Promise<void> {
    if (this.stopped) return
    const client = new Client({ connectionString: this.opts.databaseUrl, connectionTimeoutMillis: 5000, application_name: 'outbox-relay' })
    let lost = false
    const onLost = (err?: Error) => {
      if (lost) return
      lost = true
      if (this.client === client) this.client = undefined
      client.end().catch(() => {})
      if (this.stopped) return
      this.opts.log.warn({ err: err?.message }, 'outbox: LISTEN connection lost, reconnecting')
      this.retry()
    }
    client.on('error', onLost)
    client.on('end', () => onLost())
    client.on('notification', () => this.opts.onNotification())
    try {
      await client.connect()
      await client.query('LISTEN outbox')
    } catch (err) {
      onLost(err as Error)
      return
    }
    if (this.stopped) {
      lost = true
      await client.end().catch(() => {})
      return
    }
    this.client = client
    this.retryMs = RETRY_FIRST_MS
    this.opts.onConnected()
  }

  private retry(): void {
    const delay = this.retryMs
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.attempt = this.listen()
    }, delay)
    this.retryTimer.unref()
  }
}
