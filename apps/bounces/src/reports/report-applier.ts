import type { EventSink } from '@socialnet/broker'
import type { DeliveryAttempts, SuppressionList } from '@socialnet/sender'
import type { Logger } from 'pino'
import type { BouncesMetrics } from '../metrics'
import { parseReport } from './parse-report'
import type { Verdict } from './verdict'

/** What a ReportApplier works with. */
export interface ReportApplierOptions {
  suppressions: SuppressionList
  attempts: DeliveryAttempts
  events: EventSink
  metrics: BouncesMetrics
  log: Logger
  /** Written in the delivery log rows of bounces. */
  replica: string
}

/**
 * Applies one received report to the mails its verified recipients name:
 * the bounce policy (SuppressionList.recordBounce), a `bounced` row in the
 * delivery log for DSNs, and the events. The address acted on is the one we
 * sent that mail to (the delivery log), never what the report claims: a
 * report for a mail we have no record of changes nothing.
 */
export class ReportApplier {
  constructor(private readonly options: ReportApplierOptions) {}

  /** Parses `raw` and applies it to each of `messageIds`; rejects only when the database failed (the sender retries). */
  async apply(messageIds: readonly string[], raw: Buffer): Promise<void> {
    const verdict = await parseReport(raw)
    if (verdict.outcome === 'malformed') {
      this.options.log.warn({ messageIds, why: verdict.why, bytes: raw.length }, 'malformed report accepted and dropped')
      this.options.metrics.countReport('malformed')
      return
    }
    for (const messageId of messageIds) await this.applyTo(messageId, verdict)
  }

  private async applyTo(messageId: string, verdict: Exclude<Verdict, { outcome: 'malformed' }>): Promise<void> {
    const { suppressions, attempts, events, metrics, log } = this.options
    if (verdict.outcome === 'ignored') {
      log.info({ messageId, why: verdict.why }, 'report ignored')
      metrics.countReport('ignored')
      return
    }
    const sent = await attempts.recipientOf(messageId)
    if (!sent) {
      // The tag verified, so the id is ours, but the log has no recipient (pruned, or never tried).
      // Trusting the report's Final-Recipient instead would let it name any address.
      log.warn({ messageId, outcome: verdict.outcome }, 'report for a mail the delivery log does not know; nothing changed')
      metrics.countReport('unknown_message')
      return
    }
    const { status, diagnostic, smtpCode, source } = verdict
    const kind = verdict.outcome
    const reason = await suppressions.recordBounce({
      address: sent.recipient,
      kind,
      source,
      messageId,
      detail: diagnostic ? `${status} ${diagnostic}` : status
    })
    if (source === 'dsn') {
      await attempts.record([{
        messageId,
        recipient: sent.recipient,
        userId: sent.userId,
        outcome: 'bounced',
        smtpCode,
        smtpReply: diagnostic ?? status,
        replica: this.options.replica
      }])
    }
    metrics.countReport(kind)
    log.info({ messageId, kind, status, suppressed: reason }, 'report applied')
    const subject = `mail:${messageId}`
    const userId = sent.userId ?? undefined
    events.emit('mail.bounced', { subject, userId, data: { messageId, kind, source: kind === 'complaint' ? 'arf' : 'dsn', status, diagnostic } })
    if (reason) events.emit('mail.suppressed', { subject, userId, data: { messageId, reason } })
  }
}
