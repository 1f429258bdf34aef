import { describeEvent } from '../src/events/describe'
import type { AnyEvent } from '../src/events/types'

const at = '2026-12-07T10:00:00.000Z'
const event = (type: string, service: string, replica: string, data: Record<string, unknown>) =>
  ({ id: '1-0', at, service, replica, subject: 'mail:m1', type, data }) as AnyEvent
const line = (e: AnyEvent) => { const { what, details } = describeEvent(e); return [what, ...details.filter(Boolean)].join(' — ') }

describe('a person\'s own mail on the timeline: sent, deferred, bounced, suppressed, throttled', () => {
  test('each mail event reads as what became of the mail', () => {
    expect(line(event('mail.sent', 'mailer', 'mailer-1', { messageId: 'm1', smtpResponse: '250 OK', durationMs: 41 }))).toBe('SMTP accepted by mailer-1 — 41 ms — 250 OK')
    expect(line(event('mail.deferred', 'mailer', 'mailer-2', { messageId: 'm1', attempt: 2, smtpCode: 421, reason: '4.7.0 try later' })))
      .toBe('Mail deferred by mailer-2: the receiving server said not now — attempt 2 — SMTP 421 — 4.7.0 try later')
    expect(line(event('mail.deferred', 'mailer', 'mailer-2', { messageId: 'm1', attempt: 1, reason: 'ETIMEDOUT' })))
      .toBe('Mail deferred by mailer-2: the receiving server said not now — attempt 1 — ETIMEDOUT')
    expect(line(event('mail.bounced', 'bounces', 'bounces-1', { messageId: 'm1', kind: 'hard', status: '5.1.1', diagnostic: 'user unknown' })))
      .toBe('Mail bounced: the address does not take mail, reported to bounces-1 — 5.1.1 — user unknown')
    expect(line(event('mail.bounced', 'bounces', 'bounces-1', { messageId: 'm1', kind: 'complaint' })))
      .toBe('Mail reported as spam by the recipient, reported to bounces-1')
    expect(line(event('mail.suppressed', 'mailer', 'mailer-1', { messageId: 'm1', reason: 'hard_bounce' })))
      .toBe('Mail not sent by mailer-1: the address is suppressed — hard_bounce — no mail to this address: its server says it does not exist')
    expect(line(event('mail.bounced', 'mailer', 'mailer-1', { messageId: 'm1', kind: 'hard', source: 'smtp', smtpCode: 550, diagnostic: '5.1.1 user unknown' })))
      .toBe('Mail bounced: the address does not take mail, refused while mailer-1 sent it — SMTP 550 — 5.1.1 user unknown')
    expect(describeEvent(event('mail.throttled', 'mailer', 'mailer-1', { messageId: 'm1', domain: 'example.com', retryAt: at })).what)
      .toBe('Mail held back by mailer-1: example.com takes only so many mails a minute')
  })
})
