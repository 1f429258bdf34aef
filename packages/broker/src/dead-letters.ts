import type { ConfirmChannel, GetMessage } from 'amqplib'
import type { BrokerConnection } from './connection'
import { ConfirmedChannel, PUBLISH_ID_HEADER } from './confirmed-channel'
import { ATTEMPT_HEADER, DEFERRAL_HEADERS, FAILURE_HEADERS, LAST_ERROR_HEADER, copyOptions } from './message'
import { CHANNEL_CLOSE_TIMEOUT_MS, settledWithin } from './settled-within'
import type { QueueNames, WorkQueue } from './topology'

/** Header a replayed message carries: `{at: ISO time, by: who replayed it}`. */
export const REDRIVEN_HEADER = 'x-redriven'

/** Headers that describe a past life in the queue family; a replay starts the message afresh without them. */
const FAILURE_STATE_HEADERS = [
  ATTEMPT_HEADER, LAST_ERROR_HEADER, PUBLISH_ID_HEADER, ...Object.values(FAILURE_HEADERS), ...Object.values(DEFERRAL_HEADERS),
  'x-death', 'x-first-death-reason', 'x-first-death-queue', 'x-first-death-exchange',
  'x-last-death-reason', 'x-last-death-queue', 'x-last-death-exchange', 'x-delivery-count'
]

const PREVIEW_CHARS = 200

/** One dead-lettered message as an operator sees it. */
export interface DeadLetter {
  messageId: string | null
  type: string | null
  /** `malformed` | `permanent` | `exhausted` (the consumer's decision) or `broker:<reason>` (delivery limit, reject). */
  kind: string
  /** Stable failure code when the consumer recorded one (`SMTP_5XX`, `ECONNREFUSED`, `MALFORMED`). */
  code: string | null
  reason: string
  attempts: number
  firstFailedAt: string | null
  lastFailedAt: string | null
  /** The work queue it failed in, where a replay sends it. */
  originalQueue: string
  /** Set when this message was replayed before (and failed again). */
  redriven: { at: string; by: string } | null
  bytes: number
  /** The first characters of the body (peek only). */
  preview?: string
}

/** Which dead letters to replay: exactly one of `messageIds` / `all`. */
export interface ReplaySelection {
  messageIds?: string[]
  all?: boolean
  /** Answer what would be replayed; move nothing. */
  dryRun?: boolean
  /** At most this many messages are replayed (and, for `messageIds`, looked at) per call. */
  limit: number
}

/** What a replay did (or, with dryRun, would do). */
export interface ReplayResult {
  dryRun: boolean
  replayed: number
  messageIds: string[]
  /** Requested ids not found among the messages looked at. */
  notFound: string[]
  /** Messages still in the dead-letter queue afterwards. */
  remaining: number
}

/**
 * Inspect, replay and purge one work queue's dead-letter queue. Reading is
 * `basic.get` without ack on a channel of its own, closed afterwards: every
 * message read returns to the queue. RabbitMQ quorum queues (checked on
 * 3.10) deliver returned messages before any never-delivered one, in the
 * order they were returned, and add one to `x-delivery-count`: nothing is
 * lost, and the messages a read did not reach keep their place; a read of
 * the first few of several already-read messages moves those few behind the
 * others. The dead-letter queue has no delivery limit, so reads never
 * expire a message. A replay publishes a copy to the
 * work queue with publisher confirms and acks the dead letter only after
 * the confirm: a crash in between leaves one copy in each, and the
 * consumers dedupe on `messageId`.
 */
export class DeadLetterQueue {
  readonly names: QueueNames

  constructor(
    private readonly connection: BrokerConnection,
    readonly queue: WorkQueue,
    private readonly opts: { confirmTimeoutMs?: number } = {}
  ) {
    this.names = connection.topology.queues[queue]
  }

  /** Up to `limit` dead letters from the head of the queue, and how many there are in all. */
  async list(limit: number, opts: { preview?: boolean } = {}): Promise<{ total: number; messages: DeadLetter[] }> {
    return this.withChannel(async (channel) => {
      const { messageCount } = await channel.checkQueue(this.names.dlq)
      const messages: DeadLetter[] = []
      // Bounded by the depth seen first: a message dead-lettered meanwhile waits for the next call.
      for (let i = 0; i < Math.min(limit, messageCount); i++) {
        const message = await channel.get(this.names.dlq, { noAck: false })
        if (message === false) break
        messages.push(this.describe(message, opts.preview ?? false))
      }
      return { total: messageCount, messages }
    })
  }

  /**
   * Sends the selected dead letters back to the work queue with a fresh
   * attempt count and a `x-redriven` header; see the class comment for the
   * order of publish and ack. Only the messages that were in the queue when
   * the call began are looked at, so a message that fails again at once
   * cannot be replayed twice by one call.
   */
  async replay(selection: ReplaySelection, by: string): Promise<ReplayResult> {
    const wanted = selection.messageIds ? new Set(selection.messageIds) : undefined
    const dryRun = selection.dryRun ?? false
    return this.withChannel(async (channel) => {
      const confirmed = new ConfirmedChannel(channel)
      const { messageCount } = await channel.checkQueue(this.names.dlq)
      const ids: string[] = []
      const seen = new Set<string>()
      const at = new Date().toISOString()
      // Messages read and not acked (not chosen, or a dry run) are held by this channel until it
      // closes, and the queue's count leaves them out: they are added back to what is left.
      let held = 0
      // `limit` bounds the messages looked at, not only those chosen: an id that is not there
      // must not make one call hold the whole dead-letter queue unacked.
      for (let i = 0; i < Math.min(messageCount, selection.limit); i++) {
        if (wanted && seen.size === wanted.size) break
        const message = await channel.get(this.names.dlq, { noAck: false })
        if (message === false) break
        const id = typeof message.properties.messageId === 'string' ? message.properties.messageId : ''
        if (wanted && !wanted.has(id)) { held++; continue }
        seen.add(id)
        ids.push(id)
        if (dryRun) { held++; continue }
        await this.republish(confirmed, message, { at, by })
        channel.ack(message)
      }
      const notFound = wanted ? [...wanted].filter((id) => !seen.has(id)) : []
      const remaining = (await channel.checkQueue(this.names.dlq)).messageCount + held
      return { dryRun, replayed: ids.length, messageIds: ids, notFound, remaining }
    })
  }

  /** Deletes every dead letter that is not being read right now; answers how many. */
  async purge(): Promise<number> {
    return this.withChannel(async (channel) => (await channel.purgeQueue(this.names.dlq)).messageCount)
  }

  private async republish(confirmed: ConfirmedChannel, message: GetMessage, redriven: { at: string; by: string }): Promise<void> {
    const p = message.properties
    const headers: Record<string, unknown> = { ...(p.headers ?? {}) }
    for (const name of FAILURE_STATE_HEADERS) delete headers[name]
    headers[REDRIVEN_HEADER] = redriven
    const options = copyOptions(p, headers)
    const timeoutMs = this.opts.confirmTimeoutMs ?? 10_000
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`replay of ${String(p.messageId)} not confirmed within ${timeoutMs} ms`)), timeoutMs)))
    try {
      // Through the family's own exchange, routed by queue name: it reaches the work queue and nothing else.
      await Promise.race([confirmed.send(this.names.deadLetterExchange, this.names.name, message.content, options).confirmed, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  private describe(message: GetMessage, preview: boolean): DeadLetter {
    const h = (message.properties.headers ?? {}) as Record<string, unknown>
    const text = (name: string): string | null => (typeof h[name] === 'string' ? (h[name] as string) : null)
    const deaths = Array.isArray(h['x-death']) ? (h['x-death'] as Array<Record<string, unknown>>) : []
    // Dead-lettered by the broker (delivery limit, a reject), not by our consumer: x-death says why.
    const brokerDeath = deaths.find((d) => d.reason !== 'expired')
    const brokerTime = typeof brokerDeath?.time === 'number' ? new Date(brokerDeath.time * 1000).toISOString() : null
    const lastFailedAt = text(FAILURE_HEADERS.failedAt) ?? brokerTime
    const attempts = Number(h[ATTEMPT_HEADER])
    const redriven = h[REDRIVEN_HEADER] as { at?: unknown; by?: unknown } | undefined
    const letter: DeadLetter = {
      messageId: message.properties.messageId ?? null,
      type: message.properties.type ?? null,
      kind: text(FAILURE_HEADERS.kind) ?? (brokerDeath ? `broker:${String(brokerDeath.reason)}` : 'unknown'),
      code: text(FAILURE_HEADERS.code),
      reason: text(FAILURE_HEADERS.reason) ?? (brokerDeath ? `dead-lettered by RabbitMQ (${String(brokerDeath.reason)}) from ${String(brokerDeath.queue)}` : 'unknown'),
      attempts: Number.isInteger(attempts) && attempts >= 1 ? attempts : 1,
      firstFailedAt: text(FAILURE_HEADERS.firstFailedAt) ?? lastFailedAt,
      lastFailedAt,
      originalQueue: text(FAILURE_HEADERS.queue) ?? this.names.name,
      redriven: redriven && typeof redriven.at === 'string' ? { at: redriven.at, by: String(redriven.by) } : null,
      bytes: message.content.length
    }
    if (preview) {
      const body = message.content.toString('utf8')
      letter.preview = body.length > PREVIEW_CHARS ? `${body.slice(0, PREVIEW_CHARS)}…` : body
    }
    return letter
  }

  // A channel per call: closing it hands back whatever was read and not acked.
  private async withChannel<T>(work: (channel: ConfirmChannel) => Promise<T>): Promise<T> {
    const channel = await this.connection.createChannel()
    channel.on('error', (err: Error) => this.connection.log.warn({ err, queue: this.names.dlq }, 'dead-letter channel error'))
    try {
      return await work(channel)
    } finally {
      await settledWithin(channel.close(), CHANNEL_CLOSE_TIMEOUT_MS)
    }
  }
}
