import type { MessageType } from '@socialnet/contracts'
import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib'
import type { BrokerConnection } from './connection'
import { PUBLISH_ID_HEADER, type ConfirmedChannel } from './confirmed-channel'
import { ManagedChannel } from './managed-channel'
import { DeferredError, UnroutableMessageError } from './errors'
import { classifyFailure, type FailureKind, type FailureOutcome, type MessageHandler } from './failure'
import { deferTarget, retryTarget } from './retry-schedule'
import { ATTEMPT_HEADER, DEFERRAL_HEADERS, FAILURE_HEADERS, LAST_ERROR_HEADER, copyOptions, decodeMessage, type AnyConsumedMessage } from './message'
import { settledWithin } from './settled-within'
import { declareQueueFamily, type WorkQueue } from './topology'
import type { Presence } from './other-stacks'

/** Options of a Consumer. */
export interface ConsumerOptions {
  queue: WorkQueue
  handler: MessageHandler
  /** Deliveries held unacknowledged at once (and so handled concurrently). */
  prefetch?: number
  /** The attempt that fails for the maxAttempts-th time goes to the dead-letter queue. */
  maxAttempts?: number
  /** Message types this consumer understands; others are dead-lettered as malformed. Default: any known type. */
  accepts?: readonly MessageType[]
  /** How long a retry or dead-letter republish may wait for its confirm before the delivery is requeued. */
  confirmTimeoutMs?: number
  /**
   * A retry waits between (1 - retryJitter) x and 1 x its queue's delay, so
   * messages that failed together do not all come back together. 0..1, default 0.2.
   */
  retryJitter?: number
  /**
   * How long a message may keep being deferred (DeferredError), counted from
   * its first deferral. Past it, a deferral counts as a failed attempt (a
   * retry after the asked delay), so the attempt limit ends the wait in the
   * dead-letter queue. Default 24 h.
   */
  maxDeferralMs?: number
  /**
   * Told of every failure once the consumer decided: a retry before the
   * message moves (a failed move redelivers it, and the retry runs anyway),
   * a dead letter only once its copy in the dlq is confirmed (a job marked
   * FAILED whose dead letter was never stored would be skipped when
   * redelivered, and lost). `message` is undefined for a malformed one.
   * Errors it throws are logged and do not stop the move.
   */
  onFailure?: (outcome: FailureOutcome, message: AnyConsumedMessage | undefined) => Promise<void> | void
  /** Told each retry, defer or dead-letter decision once the message sits in its retry queue or dlq (events). */
  onDecision?: (decision: ConsumerDecision) => void
}

/** What the Consumer decided about a message it did not ack: where it went and why. */
type DecisionOutcome =
  | { action: 'retry'; delayMs: number; retryAt: Date }
  | { action: 'dead_letter'; kind: FailureKind; permanent: boolean }
  | { action: 'defer'; delayMs: number; retryAt: Date; deferrals: number; scope: string | undefined }

/** A decision the Consumer made about a failed or deferred message, as onDecision hears it once the message has moved. */
export type ConsumerDecision = {
  messageId: string | undefined
  type: string | undefined
  headers: Record<string, unknown>
  attempt: number
  reason: string
} & DecisionOutcome

const MAX_REASON = 1000
const DEFAULT_MAX_DEFERRAL_MS = 24 * 3_600_000

/**
 * Consumes one work queue with manual acks. A message is acked only after
 * its handler resolved, or after a copy was confirmed in its retry queue or
 * dead-letter queue, so a crash at any point leaves it in the broker. There
 * is no requeue-on-error loop: a failed attempt goes to a retry queue whose
 * TTL is the backoff, and the attempt count travels in a header. A
 * deferred message (DeferredError) takes the same road back with its attempt
 * count unchanged.
 */
export class Consumer {
  private readonly prefetch: number
  private readonly maxAttempts: number
  private readonly confirmTimeoutMs: number
  private readonly retryJitter: number
  private readonly maxDeferralMs: number
  private readonly channels: ManagedChannel
  private consumerTag: string | undefined
  /** This consumer's place in its queue's presence (see other-stacks.ts), while its channel lives. */
  private presence: Presence | undefined
  private started = false
  private stopping = false
  private readonly inFlight = new Set<Promise<void>>()
  private handledCount = 0

  constructor(
    private readonly connection: BrokerConnection,
    private readonly options: ConsumerOptions
  ) {
    this.prefetch = options.prefetch ?? 10
    this.maxAttempts = options.maxAttempts ?? 5
    this.confirmTimeoutMs = options.confirmTimeoutMs ?? 10_000
    this.retryJitter = options.retryJitter ?? 0.2
    this.maxDeferralMs = options.maxDeferralMs ?? DEFAULT_MAX_DEFERRAL_MS
    if (!(this.retryJitter >= 0 && this.retryJitter <= 1)) throw new RangeError('retryJitter must be between 0 and 1')
    if (!Number.isInteger(this.prefetch) || this.prefetch < 1) throw new RangeError('prefetch must be a positive integer')
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) throw new RangeError('maxAttempts must be a positive integer')
    this.channels = new ManagedChannel(connection, {
      role: `consumer of ${options.queue}`,
      // Nothing opens before start(); after stop() the channel manager opens nothing either.
      wanted: () => this.started && !this.stopping,
      setup: (confirmed) => this.consume(confirmed),
      onClose: () => {
        this.consumerTag = undefined
        this.leavePresence()
      }
    })
  }

  /** Messages whose handler succeeded and that were acked, since this consumer was made (a heartbeat's rate). */
  get handled(): number {
    return this.handledCount
  }

  /** Messages being handled right now. */
  get active(): number {
    return this.inFlight.size
  }

  /** True while a channel is consuming. */
  get isConsuming(): boolean {
    return this.consumerTag !== undefined
  }

  /** Starts consuming (and again after every reconnect); resolves once consuming, waiting for the broker if needed. */
  async start(): Promise<void> {
    if (this.stopping) throw new Error('consumer is stopped')
    this.started = true
    while (!this.isConsuming && !this.stopping) {
      await this.connection.waitForConnection()
      await this.channels.open()
      // Connected but could not consume (channel refused, queue missing): pause, never spin.
      if (!this.isConsuming && !this.stopping) await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }

  /**
   * Stops taking messages, waits up to `timeoutMs` for the handlers in
   * flight, then closes the channel. Messages still unacked then go back to
   * the queue for another consumer. Idempotent. Every broker round trip here
   * is bounded too, so a broker that stopped answering cannot hold a
   * shutdown past its grace period.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    const left = (): number => deadline - Date.now()
    this.stopping = true
    await this.channels.hold(left())
    const confirmed = this.channels.channel
    const tag = this.consumerTag
    this.consumerTag = undefined
    if (confirmed && tag) await settledWithin(confirmed.channel.cancel(tag), left())
    if (this.inFlight.size > 0) {
      await settledWithin(Promise.allSettled([...this.inFlight]), left())
      if (this.inFlight.size > 0) this.connection.log.warn({ queue: this.options.queue, unfinished: this.inFlight.size }, 'consumer stop deadline passed; unfinished messages return to the queue')
    }
    await this.channels.close()
    this.leavePresence()
  }

  private leavePresence(): void {
    this.presence?.leave()
    this.presence = undefined
  }

  // Each new channel: declare the queue family, set the prefetch, consume.
  private async consume(confirmed: ConfirmedChannel): Promise<void> {
    const { channel } = confirmed
    const family = this.connection.topology.queues[this.options.queue]
    // Every (re)open: a broker that lost its definitions gets this queue back
    // even when no other process declares it.
    await declareQueueFamily(channel, family)
    // Before consuming: another launcher's consumers on this machine would take our messages.
    this.leavePresence()
    this.presence = await this.connection.otherStacks?.join(() => this.connection.createChannel(), family.name)
    await channel.prefetch(this.prefetch)
    const queue = family.name
    const { consumerTag } = await channel.consume(queue, (raw) => {
      // null: the broker cancelled us (queue deleted); close and consume again later.
      if (raw === null) return this.channels.drop(confirmed, { close: true })
      // Sent before the broker saw our cancel: left unacked, the channel close hands it back.
      if (this.stopping) return
      this.track(this.handle(confirmed, raw))
    })
    if (this.stopping) await channel.cancel(consumerTag).catch(() => {})
    else if (this.channels.channel === confirmed) this.consumerTag = consumerTag
    this.connection.log.info({ queue, prefetch: this.prefetch }, 'consuming')
  }

  private track(work: Promise<void>): void {
    // handle() settles every outcome itself; this catch only keeps a bug in
    // it from becoming an unhandled rejection that kills the process.
    const tracked = work
      .catch((err: unknown) => this.connection.log.error({ err, queue: this.options.queue }, 'message handling crashed; the broker will redeliver'))
      .finally(() => this.inFlight.delete(tracked))
    this.inFlight.add(tracked)
  }

  private async handle(confirmed: ConfirmedChannel, raw: ConsumeMessage): Promise<void> {
    const decoded = decodeMessage(raw, this.options.accepts)
    const { messageId, type } = raw.properties as { messageId?: string; type?: string }
    if (!decoded.ok) {
      const outcome: FailureOutcome = { action: 'dead-letter', messageId, type, attempt: decoded.attempt, kind: 'malformed', code: 'MALFORMED', reason: decoded.reason, error: decoded.reason, permanent: true }
      return this.fail(confirmed, raw, outcome, undefined)
    }
    const { message } = decoded
    const isLastAttempt = message.attempt >= this.maxAttempts
    try {
      await this.options.handler(message, { attempt: message.attempt, isLastAttempt })
    } catch (err) {
      if (err instanceof DeferredError && this.mayDefer(raw)) return this.defer(confirmed, raw, err, message)
      const failure = classifyFailure(err)
      if (failure.permanent || isLastAttempt) {
        const reason = failure.permanent ? failure.reason : `failed ${message.attempt} attempts, last: ${failure.reason}`
        const kind: FailureKind = failure.permanent ? 'permanent' : 'exhausted'
        return this.fail(confirmed, raw, { action: 'dead-letter', messageId, type, attempt: message.attempt, kind, code: failure.code, reason, error: failure.reason, permanent: failure.permanent }, message)
      }
      const target = retryTarget(this.connection.topology.queues[this.options.queue].retries, message.attempt, failure.retryAfterMs, this.retryJitter)
      const outcome: FailureOutcome = { action: 'retry', messageId, type, attempt: message.attempt, delayMs: target.delayMs, code: failure.code, reason: failure.reason, error: failure.reason, permanent: false }
      return this.retry(confirmed, raw, outcome, target.queue, message)
    }
    this.settle(confirmed, raw, 'ack')
    this.handledCount++
  }

  private async retry(confirmed: ConfirmedChannel, raw: ConsumeMessage, outcome: FailureOutcome & { action: 'retry' }, queue: string, message: AnyConsumedMessage): Promise<void> {
    const previous = raw.properties.headers ?? {}
    const headers = {
      ...previous,
      [ATTEMPT_HEADER]: outcome.attempt + 1,
      [LAST_ERROR_HEADER]: truncate(outcome.reason),
      [FAILURE_HEADERS.code]: outcome.code,
      [FAILURE_HEADERS.firstFailedAt]: previous[FAILURE_HEADERS.firstFailedAt] ?? new Date().toISOString()
    }
    this.connection.log.warn({ messageId: outcome.messageId, type: outcome.type, attempt: outcome.attempt, delayMs: outcome.delayMs, code: outcome.code, reason: outcome.reason }, 'message failed, retrying later')
    await this.notify(outcome, message)
    if (await this.republish(confirmed, raw, queue, headers, String(outcome.delayMs))) {
      this.decided(raw, outcome.attempt, outcome.reason, { action: 'retry', delayMs: outcome.delayMs, retryAt: new Date(Date.now() + outcome.delayMs) })
    }
  }

  private mayDefer(raw: ConsumeMessage): boolean {
    const first = Date.parse(String(raw.properties.headers?.[DEFERRAL_HEADERS.firstDeferredAt] ?? ''))
    return Number.isNaN(first) || Date.now() - first < this.maxDeferralMs
  }

  // Not a failure: same attempt count, no failure headers, a debug line only
  // (a throttled domain defers every message it gets, all day long).
  private async defer(confirmed: ConfirmedChannel, raw: ConsumeMessage, err: DeferredError, message: AnyConsumedMessage): Promise<void> {
    const target = deferTarget(this.connection.topology.queues[this.options.queue].retries, err.delayMs)
    const previous = raw.properties.headers ?? {}
    const deferrals = (Number(previous[DEFERRAL_HEADERS.count]) || 0) + 1
    const headers = {
      ...previous,
      [DEFERRAL_HEADERS.count]: deferrals,
      [DEFERRAL_HEADERS.firstDeferredAt]: previous[DEFERRAL_HEADERS.firstDeferredAt] ?? new Date().toISOString()
    }
    const reason = err.message
    const outcome: FailureOutcome = { action: 'defer', messageId: message.messageId, type: message.type, attempt: message.attempt, delayMs: target.delayMs, deferrals, scope: err.scope, code: err.code, reason, error: reason, permanent: false }
    this.connection.log.debug({ messageId: message.messageId, type: message.type, attempt: message.attempt, delayMs: target.delayMs, deferrals, scope: err.scope, code: err.code }, 'message deferred')
    await this.notify(outcome, message)
    if (await this.republish(confirmed, raw, target.queue, headers, String(target.delayMs))) {
      this.decided(raw, message.attempt, reason, { action: 'defer', delayMs: target.delayMs, retryAt: new Date(Date.now() + target.delayMs), deferrals, scope: err.scope })
    }
  }

  private async fail(confirmed: ConfirmedChannel, raw: ConsumeMessage, outcome: FailureOutcome & { action: 'dead-letter' }, message: AnyConsumedMessage | undefined): Promise<void> {
    const q = this.connection.topology.queues[this.options.queue]
    const previous = raw.properties.headers ?? {}
    const now = new Date().toISOString()
    const headers = {
      ...previous,
      [ATTEMPT_HEADER]: outcome.attempt,
      [FAILURE_HEADERS.kind]: outcome.kind,
      [FAILURE_HEADERS.code]: outcome.code,
      [FAILURE_HEADERS.reason]: truncate(outcome.reason),
      [FAILURE_HEADERS.failedAt]: now,
      [FAILURE_HEADERS.firstFailedAt]: previous[FAILURE_HEADERS.firstFailedAt] ?? now,
      [FAILURE_HEADERS.queue]: q.name
    }
    this.connection.log.error({ messageId: outcome.messageId, type: outcome.type, attempt: outcome.attempt, kind: outcome.kind, code: outcome.code, reason: outcome.reason, dlq: q.dlq }, 'message dead-lettered')
    if (await this.republish(confirmed, raw, q.dlq, headers)) {
      await this.notify(outcome, message)
      this.decided(raw, outcome.attempt, outcome.reason, { action: 'dead_letter', kind: outcome.kind, permanent: outcome.permanent })
    }
  }

  private async notify(outcome: FailureOutcome, message: AnyConsumedMessage | undefined): Promise<void> {
    if (!this.options.onFailure) return
    try {
      await this.options.onFailure(outcome, message)
    } catch (err) {
      this.connection.log.warn({ err, messageId: outcome.messageId, action: outcome.action }, 'onFailure hook failed; moving the message anyway')
    }
  }

  // The hook observes; a bug in it must not change what happens to the message.
  private decided(raw: ConsumeMessage, attempt: number, reason: string, outcome: DecisionOutcome): void {
    if (!this.options.onDecision) return
    const p = raw.properties
    try {
      this.options.onDecision({ messageId: p.messageId, type: p.type, headers: { ...(p.headers ?? {}) }, attempt, reason: truncate(reason), ...outcome })
    } catch (err) {
      this.connection.log.warn({ err, messageId: p.messageId }, 'onDecision hook failed')
    }
  }

  // Copies the message, byte for byte, to `queue` through the family's own
  // dead-letter exchange (not the default exchange: the service's broker
  // user may write to its own family only), and acks the original only once
  // the copy is confirmed. If the copy cannot be confirmed the original is
  // requeued (bounded by the queue's delivery limit); if its target queue is
  // missing the original is rejected, so the work queue dead-letters it.
  // Resolves true once the copy is confirmed.
  private async republish(confirmed: ConfirmedChannel, raw: ConsumeMessage, queue: string, headers: Record<string, unknown>, expiration?: string): Promise<boolean> {
    delete headers[PUBLISH_ID_HEADER]
    const p = raw.properties
    const options: Options.Publish = { ...copyOptions(p, headers), ...(expiration === undefined ? {} : { expiration }) }
    let timer: NodeJS.Timeout | undefined
    try {
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no confirm within ${this.confirmTimeoutMs} ms`)), this.confirmTimeoutMs)))
      const exchange = this.connection.topology.queues[this.options.queue].deadLetterExchange
      await Promise.race([confirmed.send(exchange, queue, raw.content, options).confirmed, timeout])
    } catch (err) {
      this.connection.log.error({ err, messageId: p.messageId, queue }, 'could not move the message; handing it back to the broker')
      this.settle(confirmed, raw, err instanceof UnroutableMessageError ? 'reject' : 'requeue')
      return false
    } finally {
      clearTimeout(timer)
    }
    this.settle(confirmed, raw, 'ack')
    return true
  }

  // Acks on the channel the message came from (a delivery tag means nothing
  // on another). If that channel is gone the broker redelivers the message
  // anyway, and the handler side dedupes on messageId.
  private settle(confirmed: ConfirmedChannel, raw: ConsumeMessage, how: 'ack' | 'requeue' | 'reject'): void {
    const channel: ConfirmChannel = confirmed.channel
    try {
      if (how === 'ack') channel.ack(raw)
      else channel.nack(raw, false, how === 'requeue')
    } catch (err) {
      this.connection.log.debug({ err, messageId: raw.properties.messageId }, 'channel closed before the ack; the broker will redeliver')
    }
  }
}

function truncate(text: string): string {
  return text.length > MAX_REASON ? `${text.slice(0, MAX_REASON)}…` : text
}
