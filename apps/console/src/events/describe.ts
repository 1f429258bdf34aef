import type { AnyEvent } from './types'
import { isEvent } from './types'
import { formatTime } from '../format-time'

/** What a person reads for one event: what happened, and the numbers behind it. */
export interface EventDescription {
  /** e.g. "SMTP accepted by mailer-2" */
  what: string
  /** e.g. ["41 ms", "250 OK: queued"] */
  details: string[]
}

const MESSAGE_NAMES: Record<string, string> = {
  'mail.welcome.v1': 'Welcome mail',
  'image.thumbnails.v1': 'Thumbnail request'
}

const SUPPRESSION_REASONS: Record<string, string> = {
  hard_bounce: 'no mail to this address: its server says it does not exist',
  soft_bounce_limit: 'no mail to this address: its server kept refusing it',
  complaint: 'no mail to this address: its owner reported our mail as spam',
  manual: 'no mail to this address: an operator stopped it'
}

/** "Welcome mail", "Job", ... from a message type such as `mail.welcome.v1`. */
function messageName(messageType: string): string {
  return MESSAGE_NAMES[messageType] ?? (messageType.startsWith('job.') ? 'Job' : messageType.startsWith('mail.') ? 'Mail' : messageType)
}

/** What each kind of bounce report means for the mail. */
const BOUNCE_TEXT: Record<'hard' | 'soft' | 'complaint', string> = {
  hard: 'Mail bounced: the address does not take mail',
  soft: 'Mail bounced for now (mailbox full or server busy)',
  complaint: 'Mail reported as spam by the recipient'
}

/** "1 attempt", "3 attempts". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

export function ms(value: number | undefined): string {
  return value === undefined ? '' : value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`
}

/** One event as a line of the timeline. */
export function describeEvent(event: AnyEvent): EventDescription {
  const by = event.replica
  const e = event
  if (isEvent(e, 'user.registered')) {
    const mail = e.data.verificationMail === 'withheld'
      ? 'welcome mail withheld by a mail limit (ask again later)'
      : 'welcome mail queued in the same transaction'
    return { what: `Account "${e.data.nickname}" created by ${by}`, details: [mail] }
  }
  if (isEvent(e, 'outbox.published')) {
    return { what: `${messageName(e.data.messageType)} handed to RabbitMQ by ${by}`, details: [ms(e.data.waitedMs), `batch of ${e.data.batchSize}`] }
  }
  if (isEvent(e, 'mail.consumed')) {
    return { what: `${messageName(e.data.messageType)} picked up by ${by}`, details: [`attempt ${e.data.attempt}`, `${ms(e.data.queuedMs)} in the queue`] }
  }
  if (isEvent(e, 'mail.sent')) return { what: `SMTP accepted by ${by}`, details: [ms(e.data.durationMs), e.data.smtpResponse] }
  if (isEvent(e, 'mail.duplicate_skipped')) return { what: `Duplicate delivery skipped by ${by}`, details: ['the mail was already sent once'] }
  if (isEvent(e, 'mail.retry_scheduled')) {
    return { what: `Mail retry scheduled by ${by}`, details: [`attempt ${e.data.attempt}`, `at ${formatTime(e.data.retryAt)}`, e.data.reason] }
  }
  if (isEvent(e, 'mail.dead_lettered')) {
    return { what: `Mail dead-lettered by ${by}`, details: [`after ${plural(e.data.attempts, 'attempt')}`, e.data.permanent ? 'permanent failure' : 'gave up retrying', e.data.reason] }
  }
  if (isEvent(e, 'mail.deferred')) {
    return { what: `Mail deferred by ${by}: the receiving server said not now`, details: [`attempt ${e.data.attempt}`, e.data.smtpCode !== undefined ? `SMTP ${e.data.smtpCode}` : '', e.data.reason] }
  }
  if (isEvent(e, 'mail.bounced')) {
    // A 5xx at RCPT TO is seen by the mailer as it sends; a DSN or complaint comes back to the receiver later.
    const how = e.data.source === 'smtp' ? `refused while ${by} sent it` : `reported to ${by}`
    return { what: `${BOUNCE_TEXT[e.data.kind]}, ${how}`, details: [e.data.status ?? (e.data.smtpCode ? `SMTP ${e.data.smtpCode}` : ''), e.data.diagnostic ?? ''] }
  }
  if (isEvent(e, 'mail.suppressed')) return { what: `Mail not sent by ${by}: the address is suppressed`, details: [e.data.reason, SUPPRESSION_REASONS[e.data.reason] ?? ''] }
  if (isEvent(e, 'mail.throttled')) {
    return { what: `Mail held back by ${by}: ${e.data.domain} takes only so many mails a minute`, details: [`next try at ${formatTime(e.data.retryAt)}`] }
  }
  if (isEvent(e, 'job.status')) {
    return {
      what: `Job (${e.data.jobType}) ${e.data.status.toLowerCase().replace('_', ' ')} — ${by}`,
      details: [e.data.durationMs !== undefined ? ms(e.data.durationMs) : '', `attempts: ${e.data.attempts}`, e.data.error ?? '']
    }
  }
  if (isEvent(e, 'image.stored')) return { what: `Image stored by ${by}`, details: [`${Math.round(e.data.bytes / 1024)} KiB`, e.data.contentType] }
  if (isEvent(e, 'image.thumbnails_made')) {
    return { what: `Thumbnails made by ${by}`, details: [ms(e.data.durationMs), `${e.data.sizes.join(' and ')} px`] }
  }
  if (isEvent(e, 'stream.dropped')) return { what: 'The live stream fell behind and was restarted', details: [e.data.reason] }
  if (isEvent(e, 'stream.end')) return { what: 'The live stream was renewed', details: [e.data.reason] }
  return { what: `${event.type} — ${by}`, details: [] }
}
