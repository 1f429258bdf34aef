import type { ConfirmChannel, GetMessage } from 'amqplib'
import type { BrokerConnection } from './connection'
import { ConfirmedChannel, PUBLISH_ID_HEADER } from './confirmed-channel'
import { ATTEMPT_HEADER, DEFERRAL_HEADERS, FAILURE_HEADERS, LAST_ERROR_HEADER, copyOptions } from './message'
import { CHANNEL_CLOSE_TIMEOUT_MS, settledWithin } from './settled-within'
import type { QueueNames, WorkQueue } from './topology'

/** Header a replayed message carries: `{at: ISO time, by: who replayed it}`. */
export const REDRIVEN_HEADER = 'x-redriven'

/**
 * Headers that describe a past life in the queue family; a replay starts the message afresh
 * without them. The first failure's time stays: a replayed message that fails again is listed
 * with when it first failed, not as a new failure.
 */
const FAILURE_STATE_HEADERS = [
  ATTEMPT_HEADER, LAST_ERROR_HEADER, PUBLISH_ID_HEADER,
  ...Object.values(FAILURE_HEADERS).filter((name) => name !== FAILURE_HEADERS.firstFailedAt), ...Object.values(DEFERRAL_HEADERS),
  'x-death', 'x-first-death-reason', 'x-first-death-queue', 'x-first-death-exchange',
  'x-last-death-reason', 'x-last-death-queue', 'x-last-death-exchange', 'x-delivery-count'
]

const PREVIEW_CHARS = 200
/** How long a read waits, after closing its channel, for the queue to count the messages it returned. */
const RETURN_WAIT_MS = 3000
const RETURN_POLL_MS = 20

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

/** One dead letter in full: what the listing shows, and the message's properties, headers and body. */
export interface DeadLetterMessage {
  letter: DeadLetter
  /** The AMQP properties other than headers, as amqplib decoded them (absent ones left out). */
  properties: Record<string, unknown>
  headers: Record<string, unknown>
  body: Buffer
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
 * Inspect, show, replay, delete and purge one work queue's dead-letter queue. Reading is
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
    return this.withChannel(async (_, scan) => {
      const messages: DeadLetter[] = []
      // A message dead-lettered meanwhile waits for the next call (see scan), but is counted.
      const { remaining } = await scan(limit, async (message) => {
        messages.push(this.describe(message, opts.preview ?? false))
        return 'keep'
      }, () => false)
      return { total: remaining, messages }
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
    return this.withChannel(async (channel, scan) => {
      const confirmed = new ConfirmedChannel(channel)
      const ids: string[] = []
      const seen = new Set<string>()
      const at = new Date().toISOString()
      const { remaining } = await scan(selection.limit, async (message) => {
        const id = idOf(message)
        if (wanted && !wanted.has(id)) return 'keep'
        seen.add(id)
        ids.push(id)
        if (dryRun) return 'keep'
        await this.republish(confirmed, message, { at, by })
        return 'take'
      }, () => wanted !== undefined && seen.size === wanted.size)
      const notFound = wanted ? [...wanted].filter((id) => !seen.has(id)) : []
      return { dryRun, replayed: ids.length, messageIds: ids, notFound, remaining }
    })
  }

  /**
   * The dead letter with this `messageId`, in full, looking at most at `limit` messages; null
   * when none of them has it. Nothing is removed: the channel's close returns what was read.
   */
  async show(messageId: string, limit: number): Promise<DeadLetterMessage | null> {
    return this.withChannel(async (_, scan) => {
      let found: DeadLetterMessage | null = null
      await scan(limit, async (message) => {
        if (idOf(message) === messageId) found = this.detail(message)
        return 'keep'
      }, () => found !== null)
      return found
    })
  }

  /**
   * Deletes the dead letter with this `messageId` (the first one, should a crashed replay have
   * left two), looking at most at `limit` messages; answers what it was (null when not found)
   * and how many dead letters are left.
   */
  async delete(messageId: string, limit: number): Promise<{ deleted: DeadLetter | null; remaining: number }> {
    return this.withChannel(async (_, scan) => {
      let deleted: DeadLetter | null = null
      const { remaining } = await scan(limit, async (message) => {
        if (idOf(message) !== messageId) return 'keep'
        deleted = this.describe(message, false)
        return 'take'
      }, () => deleted !== null)
      return { deleted, remaining }
    })
  }

  /** Deletes every dead letter that is not being read right now; answers how many. */
  async purge(): Promise<number> {
    return this.withChannel(async (channel) => (await channel.purgeQueue(this.names.dlq)).messageCount)
  }

  /**
   * Reads the messages that were in the queue when the call began, at most `limit` of them, until
   * `done`: `visit` keeps each one (left unacked, back in the queue when the channel closes) or
   * takes it (acked: gone). `remaining` counts the queue afterwards, the kept ones included:
   * held unacked by this channel, they are left out of the queue's own count until it closes.
   */
  private async scan(channel: ConfirmChannel, limit: number, visit: Visit, done: () => boolean): Promise<{ remaining: number; kept: number }> {
    const { messageCount } = await channel.checkQueue(this.names.dlq)
    let kept = 0
    // `limit` bounds the messages looked at, not only those chosen: an id that is not there
    // must not make one call hold the whole dead-letter queue unacked. Bounded by the depth seen
    // first, so a message that fails again at once is not replayed twice by one call.
    for (let i = 0; i < Math.min(messageCount, limit) && !done(); i++) {
      const message = await channel.get(this.names.dlq, { noAck: false })
      if (message === false) break
      if ((await visit(message)) === 'keep') kept++
      else channel.ack(message)
    }
    return { remaining: (await channel.checkQueue(this.names.dlq)).messageCount + kept, kept }
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

  private detail(message: GetMessage): DeadLetterMessage {
    const { headers, ...properties } = message.properties
    const defined = Object.fromEntries(Object.entries(properties).filter(([, value]) => value !== undefined))
    return { letter: this.describe(message, false), properties: defined, headers: (headers ?? {}) as Record<string, unknown>, body: message.content }
  }

  /**
   * A channel per call: closing it hands back whatever was read and not acked. A quorum queue
   * takes them back after the close is confirmed (a Raft command of its own), so a read at once
   * afterwards, the listing the console asks for right after a replay, could see them missing:
   * the call returns once the queue counts them again (or after RETURN_WAIT_MS).
   */
  private async withChannel<T>(work: (channel: ConfirmChannel, scan: Scan) => Promise<T>): Promise<T> {
    const channel = await this.connection.createChannel()
    channel.on('error', (err: Error) => this.connection.log.warn({ err, queue: this.names.dlq }, 'dead-letter channel error'))
    let depthAfter: number | undefined
    const scan: Scan = async (limit, visit, done) => {
      const read = await this.scan(channel, limit, visit, done)
      if (read.kept > 0) depthAfter = read.remaining
      return read
    }
    let result: T
    try {
      result = await work(channel, scan)
    } finally {
      await settledWithin(channel.close(), CHANNEL_CLOSE_TIMEOUT_MS)
    }
    if (depthAfter !== undefined) await this.untilDepth(depthAfter)
    return result
  }

  // A reader elsewhere (another replica, the CLI) may hold some of them meanwhile, or purge:
  // the wait is bounded, and a shortfall only means a listing right afterwards shows fewer.
  private async untilDepth(depth: number): Promise<void> {
    const channel = await this.connection.createChannel().catch(() => undefined)
    if (!channel) return
    channel.on('error', (err: Error) => this.connection.log.warn({ err, queue: this.names.dlq }, 'dead-letter channel error'))
    const deadline = Date.now() + RETURN_WAIT_MS
    try {
      while ((await channel.checkQueue(this.names.dlq)).messageCount < depth && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, RETURN_POLL_MS))
      }
    } catch {
      // What was asked is done; the broker's trouble shows on the next call.
    } finally {
      await settledWithin(channel.close(), CHANNEL_CLOSE_TIMEOUT_MS)
    }
  }
}

type Visit = (message: GetMessage) => Promise<'keep' | 'take'>
type Scan = (limit: number, visit: Visit, done: () => boolean) => Promise<{ remaining: number; kept: number }>

function idOf(message: GetMessage): string {
  return typeof message.properties.messageId === 'string' ? message.properties.messageId : ''
}
