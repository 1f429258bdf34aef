import type { Pool } from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import { withTransaction } from '../db/transaction'
import { OutboxListener } from './listener'

/** What the relay needs from the broker: a publish that resolves only once the broker confirmed. */
export interface ConfirmingPublisher {
  publish(message: { routingKey: string; type: string; messageId: string; payload: unknown; timestamp: Date; userId?: string }): Promise<void>
}

/** One row the broker confirmed, as the relay reports it. */
export interface PublishedRow {
  messageId: string
  type: string
  payload: unknown
  userId?: string
  /** Row written -> confirmed by the broker. */
  waitedMs: number
}

/** Called after each batch so the plugin can count and emit events; kept out of the relay to keep it metric-agnostic. */
export interface RelayObserver {
  /** `batchSize`: rows claimed in the batch (published or not). */
  onPublished(rows: PublishedRow[], batchSize: number): void
  onFailed(count: number): void
}

export interface OutboxRelayOptions {
  pool: Pool
  /** For the dedicated LISTEN connection (a pooled client cannot hold LISTEN). */
  databaseUrl: string
  publisher: ConfirmingPublisher
  /** While false the relay does not try: the broker's 'connected' event wakes it (see brokerConnected). */
  isBrokerConnected: () => boolean
  log: FastifyBaseLogger
  /** Safety poll: catches anything a missed NOTIFY left behind and rows whose backoff ran out. */
  pollMs: number
  batchSize: number
  /** Published rows older than this are deleted (they only serve debugging once sent). */
  retentionMs: number
  observer?: RelayObserver
}

interface OutboxRow {
  id: string
  messageId: string
  type: string
  routingKey: string
  payload: unknown
  createdAt: Date
  userId: string | null
}

/** A row that failed to publish waits 2^attempts seconds, at most this long, before the next try. */
const ROW_BACKOFF_MAX_SECONDS = 300
const PRUNE_EVERY_MS = 60 * 60 * 1000

/**
 * Publishes committed outbox rows to RabbitMQ, at least once, in every api
 * replica. A batch is claimed with SELECT ... FOR UPDATE SKIP LOCKED, published
 * with confirms, and marked published in the same transaction, so replicas
 * never pick the same row while one of them holds it. The only duplicate left
 * is a crash between the broker's confirm and the COMMIT; the row's message_id
 * is the AMQP messageId, so consumers dedupe it.
 *
 * Wake-ups: NOTIFY 'outbox' and its connection coming back (OutboxListener),
 * the broker's reconnect, and a slow safety poll. Runs never overlap: a
 * wake-up during a run only asks for one more run.
 */
export class OutboxRelay {
  private readonly opts: OutboxRelayOptions
  private readonly listener: OutboxListener
  private stopped = false
  private wanted = false
  private running: Promise<void> | undefined
  private poll: NodeJS.Timeout | undefined
  private lastPrune = 0

  constructor(opts: OutboxRelayOptions) {
    this.opts = opts
    this.listener = new OutboxListener({
      databaseUrl: opts.databaseUrl,
      log: opts.log,
      onNotification: () => this.wake(),
      onConnected: () => this.wake()
    })
  }

  /** Starts listening and polling, and drains whatever is already waiting. Never throws for an unreachable database or broker. */
  async start(): Promise<void> {
    await this.listener.start()
    if (this.stopped) return
    this.poll = setInterval(() => { this.prune(); this.wake() }, this.opts.pollMs)
    this.poll.unref()
    this.wake()
  }

  /** Asks for a drain; coalesces with a drain already running. */
  wake(): void {
    if (this.stopped) return
    this.wanted = true
    if (this.running) return
    this.running = this.drain().finally(() => {
      this.running = undefined
      // A wake-up that landed between the loop's last check and here must not be lost.
      if (this.wanted && this.opts.isBrokerConnected()) this.wake()
    })
  }

  /**
   * The broker is back: rows that failed while it was away are due now rather
   * than after their backoff (which exists for rows the broker itself refuses).
   */
  brokerConnected(): void {
    if (this.stopped) return
    this.opts.pool.query('UPDATE outbox SET next_attempt_at = now() WHERE published_at IS NULL AND next_attempt_at > now()')
      .catch((err: Error) => this.opts.log.warn({ err: err.message }, 'outbox: could not reset backoff'))
      .finally(() => this.wake())
  }

  /** Stops waking, waits for the batch in flight (its publishes are bounded by the publisher's timeout), closes the LISTEN connection. */
  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.poll)
    await Promise.all([this.running, this.listener.stop()])
  }

  private async drain(): Promise<void> {
    while (this.wanted && !this.stopped) {
      this.wanted = false
      // Publishing now would only park messages in the publisher's buffer and
      // hold row locks until they time out; the reconnect wakes us instead.
      if (!this.opts.isBrokerConnected()) return
      try {
        const claimedFullBatch = await this.publishBatch()
        if (claimedFullBatch) this.wanted = true
      } catch (err) {
        // Database trouble: the safety poll tries again; no tight retry loop.
        this.opts.log.warn({ err: (err as Error).message }, 'outbox: relay batch failed')
        return
      }
    }
  }

  /** Claims, publishes and marks one batch; true when the batch was full and all went out (more may be waiting). */
  private async publishBatch(): Promise<boolean> {
    const { pool, publisher, batchSize, log, observer } = this.opts
    const { published, failed, claimed } = await withTransaction(pool, async (client) => {
      const { rows } = await client.query<OutboxRow>(
        `SELECT id, message_id AS "messageId", type, routing_key AS "routingKey", payload,
           created_at AS "createdAt", user_id AS "userId" FROM outbox
         WHERE published_at IS NULL AND next_attempt_at <= now()
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [batchSize]
      )
      const results = await Promise.allSettled(rows.map((row) => publisher.publish({
        routingKey: row.routingKey, type: row.type, messageId: row.messageId, payload: row.payload, timestamp: row.createdAt,
        userId: row.userId ?? undefined
      }).then(() => Date.now())))
      const sent: string[] = []
      const published: PublishedRow[] = []
      const failed: Array<{ id: string; messageId: string; error: string }> = []
      results.forEach((result, i) => {
        const row = rows[i]!
        if (result.status === 'fulfilled') {
          sent.push(row.id)
          published.push({ messageId: row.messageId, type: row.type, payload: row.payload, ...(row.userId ? { userId: row.userId } : {}), waitedMs: result.value - row.createdAt.getTime() })
        } else {
          failed.push({ id: row.id, messageId: row.messageId, error: String((result.reason as Error)?.message ?? result.reason) })
        }
      })
      if (sent.length > 0) {
        await client.query('UPDATE outbox SET published_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = ANY($1::bigint[])', [sent])
      }
      for (const f of failed) {
        log.warn({ messageId: f.messageId, err: f.error }, 'outbox: publish failed, will retry')
        await client.query(
          `UPDATE outbox SET attempts = attempts + 1, last_error = left($2, 1000),
             next_attempt_at = now() + make_interval(secs => least(power(2, attempts), $3))
           WHERE id = $1`,
          [f.id, f.error, ROW_BACKOFF_MAX_SECONDS]
        )
      }
      return { sent, published, failed, claimed: rows.length }
    })
    if (published.length > 0) {
      // One line per batch a person can follow: how many, of which types, how long the oldest waited.
      const types: Record<string, number> = {}
      for (const row of published) types[row.type] = (types[row.type] ?? 0) + 1
      log.info({ count: published.length, types, oldestWaitMs: Math.max(...published.map((r) => r.waitedMs)) }, 'outbox: published batch')
    }
    observer?.onPublished(published, claimed)
    observer?.onFailed(failed.length)
    return claimed === batchSize && failed.length === 0
  }

  /** Deletes long-published rows, at most hourly and in bounded chunks so it never holds big locks. */
  private prune(): void {
    const now = Date.now()
    if (now - this.lastPrune < PRUNE_EVERY_MS) return
    this.lastPrune = now
    this.opts.pool.query(
      `DELETE FROM outbox WHERE id IN (
         SELECT id FROM outbox WHERE published_at < now() - make_interval(secs => $1) LIMIT 10000)`,
      [this.opts.retentionMs / 1000]
    ).catch((err: Error) => this.opts.log.warn({ err: err.message }, 'outbox: prune failed'))
  }
}
