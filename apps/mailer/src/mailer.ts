import {
  Consumer, DeferredError, PUBLISHED_AT_HEADER, PermanentError, TransientError, userIdOf,
  type AnyConsumedMessage, type BrokerConnection, type ConsumerDecision, type EventSink, type FailureOutcome
} from '@socialnet/broker'
import { verpReturnPath, type SuppressionReason, type VerpConfig } from '@socialnet/sender'
import type { Logger } from 'pino'
import type { AttemptLog } from './attempt-log'
import type { Claim, DeliveryLog } from './deliveries'
import { FailureCode } from './errors'
import type { MailerMetrics, Outcome } from './metrics'
import type { DomainPace } from './pace'
import { describeSmtpError, isPermanentSmtpError, isRecipientRefused, smtpCodeOf, smtpFailureCode, type SmtpTransport } from './smtp'
import type { SuppressionCheck } from './suppression-check'
import { renderMail } from './templates'

/** What a Mailer needs; the service opens and closes each of these in one place. */
export interface MailerDeps {
  connection: BrokerConnection
  transport: SmtpTransport
  deliveries: DeliveryLog
  suppressions: SuppressionCheck
  attempts: AttemptLog
  metrics: MailerMetrics
  /** The receiving domains' pace; absent when no domain is paced. */
  pace?: DomainPace
  events: EventSink
  log: Logger
  publicUrl: string
  prefetch: number
  maxAttempts: number
  sendTimeoutMs: number
  /** When set, each mail's envelope sender is its VERP return path (the From header stays MAIL_FROM). */
  verp?: VerpConfig
}

/**
 * Consumes the mail queue and sends each message as one mail: render,
 * check the suppression list, claim in the delivery record, send through
 * the SMTP pool, mark sent, ack; every attempt goes to the delivery log.
 * A suppressed recipient is acked unsent. Transient SMTP failures throw
 * TransientError (the consumer retries with backoff); a 5xx to the
 * recipient is a hard bounce, recorded (the address is suppressed) and
 * acked; other permanent failures throw PermanentError (dead-lettered with
 * the reason). The consumer decides and tells `onFailure`, which counts it.
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

  /** Mail messages finished (sent, or acked as suppressed or duplicate) since start: the heartbeat's count. */
  get handled(): number {
    return this.consumer.handled
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
    // Asked before the claim, and not marked in the delivery record: a redelivery asks again, so
    // a suppression lifted in between lets the mail go, and mail_deliveries only ever means "sent".
    const suppressed = await this.deps.suppressions.reasonFor(mail.to)
    if (suppressed) return this.skipSuppressed(message, mail.to, suppressed)
    // Before the claim: a deferred mail holds no claim another mailer would wait on.
    if (this.deps.pace) await this.admit(this.deps.pace, message, mail.to)
    const claim = await this.claim(messageId, type, mail.to)
    if (claim.state === 'sent') {
      metrics.count(type, 'duplicate')
      events.emit('mail.duplicate_skipped', { ...event, data: { messageId } })
      log.info({ ...context, to: mail.to }, 'mail already sent, skipping the duplicate')
      return
    }
    const started = Date.now()
    let response: string
    try {
      response = await this.send(messageId, mail)
    } catch (err) {
      await this.deps.deliveries.release(messageId, claim.owner).catch((releaseErr: unknown) => {
        // The lease runs out by itself; the retry just waits for it.
        log.warn({ err: releaseErr, messageId }, 'could not release the delivery claim')
      })
      return this.refused(message, mail.to, err, Date.now() - started)
    }
    const durationMs = Date.now() - started
    const logged = { messageId, recipient: mail.to, userId: event.userId, outcome: 'sent' as const, smtpCode: smtpCodeOf(response) ?? 250, smtpReply: response, durationMs }
    await Promise.all([this.markSent(messageId, response), this.deps.attempts.record(logged)])
    metrics.count(type, 'sent')
    events.emit('mail.sent', { ...event, data: { messageId, smtpResponse: response, durationMs } })
    log.info({ ...context, to: mail.to, response }, 'mail sent')
  }

  // Out of tokens: the delivery log says throttled, and the consumer parks the
  // mail (the DeferredError) without spending an attempt.
  private async admit(pace: DomainPace, message: AnyConsumedMessage, to: string): Promise<void> {
    try {
      await pace.admit(to)
    } catch (err) {
      if (err instanceof DeferredError) {
        await this.deps.attempts.record({ messageId: message.messageId, recipient: to, userId: userIdOf(message.headers), outcome: 'throttled', smtpReply: err.message })
      }
      throw err
    }
  }

  private async skipSuppressed(message: AnyConsumedMessage, to: string, reason: SuppressionReason): Promise<void> {
    const { messageId, type } = message
    const userId = userIdOf(message.headers)
    this.deps.metrics.count(type, 'suppressed')
    this.deps.events.emit('mail.suppressed', { subject: `mail:${messageId}`, userId, data: { messageId, reason } })
    await this.deps.attempts.record({ messageId, recipient: to, userId, outcome: 'suppressed', smtpReply: `suppressed (${reason})` })
    this.deps.log.info({ messageId, type, attempt: message.attempt, to, reason }, 'recipient suppressed, mail not sent')
  }

  // Every refusal goes to the delivery log: a 5xx (or an envelope nodemailer
  // cannot send) as bounced, anything else as deferred, then retried. A 5xx
  // to RCPT TO says this address takes no mail: it is recorded as a hard
  // bounce (the address is suppressed) and the message acked, since there is
  // nothing left for an operator to do. Other permanent refusals (to MAIL
  // FROM or DATA: our sender or our message) are still dead-lettered.
  private async refused(message: AnyConsumedMessage, to: string, err: unknown, durationMs: number): Promise<void> {
    const { messageId, type, attempt } = message
    const event = { subject: `mail:${messageId}`, userId: userIdOf(message.headers) }
    const reason = describeSmtpError(err)
    const smtpCode = smtpCodeOf(err)
    const code = smtpFailureCode(err)
    const logged = { messageId, recipient: to, userId: event.userId, smtpCode, smtpReply: reason, durationMs }
    if (!isPermanentSmtpError(err)) {
      await this.deps.attempts.record({ ...logged, outcome: 'deferred' })
      this.deps.events.emit('mail.deferred', { ...event, data: { messageId, attempt, smtpCode, reason: withoutAddresses(reason) } })
      // A 4xx slows the domain; a 421 parks the mail without spending an attempt.
      const deferral = await this.deps.pace?.refused(to, err)
      if (deferral) throw deferral
      throw new TransientError(`SMTP send failed: ${reason}`, { code, cause: err })
    }
    await this.deps.attempts.record({ ...logged, outcome: 'bounced' })
    const recipientRefused = isRecipientRefused(err)
    this.deps.events.emit('mail.bounced', { ...event, data: { messageId, kind: 'hard', source: 'smtp', smtpCode, diagnostic: withoutAddresses(reason) } })
    if (recipientRefused && (await this.recordHardBounce(message, to, reason))) {
      this.deps.metrics.count(type, 'bounced')
      this.deps.log.info({ messageId, type, attempt, to, reason }, 'recipient refused for good (hard bounce), address suppressed')
      return
    }
    throw new PermanentError(`SMTP refused the mail: ${reason}`, { code, cause: err })
  }

  // True once the bounce is on record. If it cannot be recorded, the message
  // is dead-lettered as before: then it is an operator's problem after all.
  private async recordHardBounce(message: AnyConsumedMessage, to: string, detail: string): Promise<boolean> {
    const { messageId } = message
    try {
      const reason = await this.deps.suppressions.list.recordBounce({ address: to, kind: 'hard', source: 'smtp', messageId, detail })
      if (reason) this.deps.events.emit('mail.suppressed', { subject: `mail:${messageId}`, userId: userIdOf(message.headers), data: { messageId, reason } })
      return true
    } catch (err) {
      this.deps.log.warn({ err, messageId }, 'could not record the hard bounce; dead-lettering the mail instead')
      return false
    }
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

  private async send(messageId: string, mail: ReturnType<typeof renderMail>): Promise<string> {
    const stopTimer = this.deps.metrics.timeSend()
    // A timer cleared after the send, not AbortSignal.timeout(): that one fires for
    // every mail once the timeout has passed, building a TimeoutError with a stack
    // each time (~5% of the mailer's CPU in the bench profile).
    const deadline = new AbortController()
    const timer = setTimeout(() => deadline.abort(new Error(`send timed out after ${this.deps.sendTimeoutMs} ms`)), this.deps.sendTimeoutMs)
    const returnPath = this.deps.verp && verpReturnPath(this.deps.verp, messageId)
    try {
      const info = await this.deps.transport.sendMail({
        to: mail.to,
        // A bounce comes back to the envelope sender; with VERP it names this message.
        ...(returnPath ? { envelope: { from: returnPath, to: mail.to } } : {}),
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        // Derived from the AMQP messageId: if the duplicate window is ever hit,
        // receiving systems see the same Message-ID and can fold the two.
        messageId: `<${messageId.replace(/[^A-Za-z0-9._-]/g, '_')}@socialnet.mailer>`,
        signal: deadline.signal
      })
      return String(info.response ?? '')
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
