import type { Pool } from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import { OutboxListener } from './listener'
import { OutboxRepository, type FailedRow } from './repository'

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
  /**
   * How long a claimed batch is reserved for this replica. It must outlast the
   * publisher's confirm timeout (10 s in @socialnet/broker's Publisher), or
   * another replica could take rows this one is still publishing. It is also
   * how long the rows of a replica that died mid-batch wait. Default 60 s.
   */
  leaseMs?: number
  observer?: RelayObserver
}

const DEFAULT_LEASE_MS = 60_000
const PRUNE_EVERY_MS = 60 * 60 * 1000

/**
 * Publishes committed outbox rows to RabbitMQ, at least once, in every api
 * replica. Each batch is leased in one statement (OutboxRepository.claim),
 * published with confirms outside any transaction, then marked: published
 * rows in one statement, failed ones in another. Other replicas skip leased
 * rows; a row is published twice only when a replica dies (or stalls past its
 * lease) after the broker's confirm and before the mark. The row's message_id
 * is the AMQP messageId, so consumers dedupe it.
 *
 * Wake-ups: NOTIFY 'outbox' and its connection coming back (OutboxListener),
 * the broker's reconnect, and a slow safety poll. Runs never overlap: a
 * wake-up during a run only asks for one more run.
 */
export class OutboxRelay {
  private readonly opts: OutboxRelayOptions
  private readonly repository: OutboxRepository
  private readonly listener: OutboxListener
  private readonly leaseMs: number
  private stopped = false
  private wanted = false
  private running: Promise<void> | undefined
  private poll: NodeJS.Timeout | undefined
  private lastPrune = 0

  constructor(opts: OutboxRelayOptions) {
    this.opts = opts
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS
    this.repository = new OutboxRepository(opts.pool)
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
    this.repository.resetBackoff()
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
      // Publishing now would only park messages in the publisher's buffer until
      // they time out; the reconnect wakes us instead.
      if (!this.opts.isBrokerConnected()) return
      try {
        const claimedFullBatch = await this.publishBatch()
        if (claimedFullBatch) this.wanted = true
      } catch (err) {
        // Database trouble: the safety poll tries again; no tight retry loop. Rows
        // claimed but not marked become due again when their lease ends.
        this.opts.log.warn({ err: (err as Error).message }, 'outbox: relay batch failed')
        return
      }
    }
  }

  /** Claims, publishes and marks one batch; true when the batch was full and all went out (more may be waiting). */
  private async publishBatch(): Promise<boolean> {
    const { publisher, batchSize, log, observer } = this.opts
    const { rows, lease } = await this.repository.claim(batchSize, this.leaseMs)
    // No transaction is open here: however long the broker takes, it holds no lock or connection.
    const results = await Promise.allSettled(rows.map(async (row) => {
      await publisher.publish({
        routingKey: row.routingKey,
        type: row.type,
        messageId: row.messageId,
        payload: row.payload,
        timestamp: row.createdAt,
        userId: row.userId ?? undefined
      })
      return Date.now()
    }))
    const sent: string[] = []
    const published: PublishedRow[] = []
    const failed: FailedRow[] = []
    results.forEach((result, i) => {
      const row = rows[i]!
      if (result.status === 'fulfilled') {
        sent.push(row.id)
        published.push({ messageId: row.messageId, type: row.type, payload: row.payload, ...(row.userId ? { userId: row.userId } : {}), waitedMs: result.value - row.createdAt.getTime() })
      } else {
        const error = String((result.reason as Error)?.message ?? result.reason)
        log.warn({ messageId: row.messageId, err: error }, 'outbox: publish failed, will retry')
        failed.push({ id: row.id, error })
      }
    })
    await Promise.all([this.repository.markPublished(sent), this.repository.markFailed(failed, lease)])
    if (published.length > 0) {
      // One line per batch a person can follow: how many, of which types, how long the oldest waited.
      const types: Record<string, number> = {}
      for (const row of published) types[row.type] = (types[row.type] ?? 0) + 1
      log.info({ count: published.length, types, oldestWaitMs: Math.max(...published.map((r) => r.waitedMs)) }, 'outbox: published batch')
    }
    observer?.onPublished(published, rows.length)
    observer?.onFailed(failed.length)
    return rows.length === batchSize && failed.length === 0
  }

  /** Deletes long-published rows, at most hourly and one bounded chunk at a time so it never holds big locks. */
  private prune(): void {
    const now = Date.now()
    if (now - this.lastPrune < PRUNE_EVERY_MS) return
    this.lastPrune = now
    this.repository.prune(this.opts.retentionMs)
      .catch((err: Error) => this.opts.log.warn({ err: err.message }, 'outbox: prune failed'))
  }
}
