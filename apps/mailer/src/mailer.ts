import {
  Consumer, PUBLISHED_AT_HEADER, PermanentError, TransientError, userIdOf,
  type AnyConsumedMessage, type BrokerConnection, type ConsumerDecision, type EventSink, type FailureOutcome
} from '@socialnet/broker'
import type { Logger } from 'pino'
import type { Claim, DeliveryLog } from './deliveries'
import { FailureCode } from './errors'
import type { MailerMetrics, Outcome } from './metrics'
import type { DomainPace } from './pace'
import { describeSmtpError, isPermanentSmtpError, smtpFailureCode, type SmtpTransport } from './smtp'
import { renderMail } from './templates'

/** What a Mailer needs; the service opens and closes each of these in one place. */
export interface MailerDeps {
  connection: BrokerConnection
  transport: SmtpTransport
  deliveries: DeliveryLog
  metrics: MailerMetrics
  /** The receiving domains' pace; absent when no domain is paced. */
  pace?: DomainPace
  events: EventSink
  log: Logger
  publicUrl: string
  prefetch: number
  maxAttempts: number
  sendTimeoutMs: number
}

/**
 * Consumes the mail queue and sends each message as one mail: render,
 * claim in the delivery log, send through the SMTP pool, mark sent, ack.
 * Transient SMTP failures throw TransientError (the consumer retries with
 * backoff); permanent ones throw PermanentError (dead-lettered with the
 * reason). The consumer decides and tells `onFailure`, which counts it.
 */
export class Mailer {
  private readonly consumer: Consumer

  constructor(private readonly deps: MailerDeps) {
    this.consumer = new Consumer(deps.connection, {
      queue: 'mail',
      prefetch: deps.prefetch,
      maxAttempts: deps.maxAttempts,
      accepts: ['mail.welcome.v1', 'mail.send.v1'],
      handler: (message) => this.handle(message),
      // Metrics count each decision once it is made; events report it once the message has moved.
      onFailure: (outcome, message) => deps.metrics.count(message?.type ?? 'malformed', OUTCOME_OF[outcome.action]),
      onDecision: (decision) => this.decided(decision)
    })
  }

  // The consumer decides retry or dead letter; the mailer only reports what it decided.
  // The event reaches the mail's owner too: the reason keeps the mail server's reply but not
  // where our mail server lives (socket errors name its address); logs and the DLQ keep it all.
  private decided(d: ConsumerDecision): void {
    const messageId = d.messageId ?? ''
    const event = { subject: `mail:${messageId}`, userId: userIdOf(d.headers) }
    const reason = withoutAddresses(d.reason)
    if (d.action === 'retry') {
      this.deps.events.emit('mail.retry_scheduled', { ...event, data: { messageId, attempt: d.attempt, retryAt: d.retryAt.toISOString(), reason } })
    } else if (d.action === 'defer') {
      this.deps.events.emit('mail.throttled', { ...event, data: { messageId, domain: d.scope ?? '', retryAt: d.retryAt.toISOString() } })
    } else {
      this.deps.events.emit('mail.dead_lettered', { ...event, data: { messageId, attempts: d.attempt, reason, permanent: d.permanent } })
    }
  }

  /** Starts consuming; resolves once the consumer is attached (waits for the broker if it is down). */
  start(): Promise<void> {
    return this.consumer.start()
  }

  /** Stops taking messages and waits up to `timeoutMs` for the mails in flight. */
  stop(timeoutMs: number): Promise<void> {
    return this.consumer.stop(timeoutMs)
  }

  /** Mails being sent right now. */
  get active(): number {
    return this.consumer.active
  }

  private async handle(message: AnyConsumedMessage): Promise<void> {
    const { log, metrics, events } = this.deps
    const { messageId, type, attempt } = message
    const context = { messageId, type, attempt, redelivered: message.redelivered }
    const event = { subject: `mail:${messageId}`, userId: userIdOf(message.headers) }
    const publishedAt = Number(message.headers[PUBLISHED_AT_HEADER])
    const queuedMs = Number.isFinite(publishedAt) && publishedAt > 0 ? Math.max(0, Date.now() - publishedAt) : undefined
    events.emit('mail.consumed', { ...event, data: { messageId, messageType: type, attempt, queuedMs } })
    const mail = renderMail(message, this.deps.publicUrl)
    log.info({ ...context, to: mail.to }, 'mail consumed')
    // Before the claim: a deferred mail holds no claim another mailer would wait on.
    await this.deps.pace?.admit(mail.to)
    const claim = await this.claim(messageId, type, mail.to)
    if (claim.state === 'sent') {
      metrics.count(type, 'duplicate')
      events.emit('mail.duplicate_skipped', { ...event, data: { messageId } })
      log.info({ ...context, to: mail.to }, 'mail already sent, skipping the duplicate')
      return
    }
    const started = Date.now()
    const response = await this.send(messageId, mail, claim.owner)
    await this.markSent(messageId, response)
    metrics.count(type, 'sent')
    events.emit('mail.sent', { ...event, data: { messageId, smtpResponse: response, durationMs: Date.now() - started } })
    log.info({ ...context, to: mail.to, response }, 'mail sent')
  }

  // A live claim held by someone else means a redelivery raced the original
  // handling (a connection cut): that mailer is sending this very message
  // right now. Waiting for its outcome (sent, or released after a failure)
  // beats retrying, which would burn attempts; the lease bounds the wait.
  private async claim(messageId: string, type: string, to: string): Promise<Exclude<Claim, { state: 'busy' }>> {
    const deadline = Date.now() + this.deps.deliveries.leaseMs
    for (;;) {
      const claim = await this.deps.deliveries.claim(messageId, type, to)
      if (claim.state !== 'busy') return claim
      if (Date.now() > deadline) throw new TransientError('another mailer holds this message past its lease', { code: FailureCode.MAIL_CLAIMED_ELSEWHERE })
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  private async send(messageId: string, mail: ReturnType<typeof renderMail>, owner: string): Promise<string> {
    const stopTimer = this.deps.metrics.timeSend()
    // A timer cleared after the send, not AbortSignal.timeout(): that one fires for
    // every mail once the timeout has passed, building a TimeoutError with a stack
    // each time (~5% of the mailer's CPU in the bench profile).
    const deadline = new AbortController()
    const timer = setTimeout(() => deadline.abort(new Error(`send timed out after ${this.deps.sendTimeoutMs} ms`)), this.deps.sendTimeoutMs)
    try {
      const info = await this.deps.transport.sendMail({
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        // Derived from the AMQP messageId: if the duplicate window is ever hit,
        // receiving systems see the same Message-ID and can fold the two.
        messageId: `<${messageId.replace(/[^A-Za-z0-9._-]/g, '_')}@socialnet.mailer>`,
        signal: deadline.signal
      })
      return String(info.response ?? '')
    } catch (err) {
      await this.deps.deliveries.release(messageId, owner).catch((releaseErr: unknown) => {
        // The lease runs out by itself; the retry just waits for it.
        this.deps.log.warn({ err: releaseErr, messageId }, 'could not release the delivery claim')
      })
      const deferral = await this.deps.pace?.refused(mail.to, err)
      if (deferral) throw deferral
      const reason = describeSmtpError(err)
      const code = smtpFailureCode(err)
      if (isPermanentSmtpError(err)) throw new PermanentError(`SMTP refused the mail: ${reason}`, { code, cause: err })
      throw new TransientError(`SMTP send failed: ${reason}`, { code, cause: err })
    } finally {
      clearTimeout(timer)
      stopTimer()
    }
  }

  // The SMTP server has the mail: from here on, retrying the message would
  // send it twice. So a failing sent-mark is retried briefly and then only
  // logged; the message is acked either way.
  private async markSent(messageId: string, response: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.deps.deliveries.markSent(messageId, response)
      } catch (err) {
        if (attempt >= 3) {
          this.deps.log.error({ err, messageId }, 'mail sent but not recorded; a redelivery of this message would send it again')
          return
        }
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt))
      }
    }
  }
}

/** How mailer_messages_total counts each of the consumer's decisions. */
const OUTCOME_OF = { retry: 'retry', 'dead-letter': 'dead_lettered', defer: 'throttled' } as const satisfies Record<FailureOutcome['action'], Outcome>

/** A failure reason with IPv4/IPv6 addresses and host:port pairs replaced: `connect ECONNREFUSED <address>`. */
export function withoutAddresses(reason: string): string {
  const isIpv6 = (m: string): boolean => m.includes('::') || (m.match(/:/g) ?? []).length >= 4
  return reason
    .replace(/\[?[0-9a-f]*:[0-9a-f:.]{2,}\]?(:\d+)?/gi, (m) => (isIpv6(m) ? '<address>' : m))
    .replace(/\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b/g, '<address>')
    .replace(/\b[a-z0-9-]*[a-z][a-z0-9-]*(\.[a-z0-9-]+)*:\d{2,5}\b/gi, '<address>')
}
