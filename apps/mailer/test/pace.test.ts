import { DeferredError, type EmittedEvent, eventsOfMessage } from '@socialnet/broker'
import { namespaceTag, REDIS_URL, unlinkRedisKeys, redisBounds } from '@socialnet/testing'
import { Redis } from 'ioredis'
import pino from 'pino'
import { depth, mailerTestbed, waitFor, type MailerTestbed } from './harness'
import { startSmtpSink, type SmtpSink } from './smtp-sink'
import { MailerMetrics } from '../src/metrics'
import { DomainPace } from '../src/pace'
import type { MailerService } from '../src/service'

/** A counter or gauge of the mailer's registry, summed over the series matching `labels`. */
async function metric(service: Pick<MailerService, 'metrics'>, name: string, labels: Record<string, string> = {}): Promise<number> {
  const values = (await service.metrics.registry.getSingleMetric(name)?.get())?.values ?? []
  return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((sum, v) => sum + v.value, 0)
}

/** Recipients of the mails the sink accepted, counted. */
function delivered(smtp: SmtpSink, domain: string): Map<string, number> {
  const counts = new Map<string, number>()
  for (const mail of smtp.mails) for (const to of mail.to) if (to.endsWith(`@${domain}`)) counts.set(to, (counts.get(to) ?? 0) + 1)
  return counts
}

describe('per-domain pace', () => {
  let smtp: SmtpSink
  let bed: MailerTestbed

  beforeAll(async () => {
    smtp = await startSmtpSink()
    bed = await mailerTestbed(smtp.url)
  })

  afterAll(async () => {
    await bed.cleanup()
    await smtp.close()
  })

  beforeEach(async () => {
    // Each test starts at full pace: no bucket or slow-down level left by the one before.
    await unlinkRedisKeys(bed.env.AMQP_PREFIX!)
    smtp.mails.length = 0
    smtp.refusedRecipients = 0
    smtp.rcptReply = () => undefined
  })

  it('defers a domain answering 421 while other domains flow, then delivers all of its mail once, spending no attempt', async () => {
    // 6000/min: the slowed-down pace (an eighth) still lets the refused mail come back often.
    const service = await bed.startMailer({ MAIL_DOMAIN_RATE_PER_MINUTE: '6000', MAIL_PREFETCH: '4' })
    let refusing = true
    smtp.rcptReply = (to) => (refusing && to.endsWith('@slow.example') ? 421 : undefined)
    const slow = Array.from({ length: 5 }, (_, i) => `s${i}@slow.example`)
    const fast = Array.from({ length: 10 }, (_, i) => `f${i}@fast.example`)
    for (const to of slow) await bed.publishWelcome(to)
    for (const to of fast) await bed.publishWelcome(to)

    // More refusals than MAIL_MAX_ATTEMPTS (4) per slow mail could afford, were each a failed attempt.
    await waitFor(() => delivered(smtp, 'fast.example').size === fast.length && smtp.refusedRecipients >= 25, 'fast mail delivered while slow.example refuses')
    expect(delivered(smtp, 'slow.example').size).toBe(0)
    expect(await metric(service, 'mailer_throttled_total', { reason: 'smtp_421' })).toBeGreaterThan(0)
    expect(await metric(service, 'mailer_domain_pace_level', { domain: 'slow.example' })).toBeGreaterThan(0)
    expect(await metric(service, 'mailer_domain_slowdowns_total')).toBeGreaterThan(0)

    refusing = false
    await waitFor(() => delivered(smtp, 'slow.example').size === slow.length, 'slow.example mail once it accepts again')
    await waitFor(() => service.mailer.active === 0, 'mailer idle')
    expect([...delivered(smtp, 'slow.example').values()]).toEqual(slow.map(() => 1))
    expect([...delivered(smtp, 'fast.example').values()]).toEqual(fast.map(() => 1))
    expect(await metric(service, 'mailer_messages_total', { outcome: 'retry' })).toBe(0)
    expect(await metric(service, 'mailer_messages_total', { outcome: 'dead_lettered' })).toBe(0)
    expect(await depth(bed.raw, bed.names.queues.mail.dlq)).toBe(0)
    await service.close(1000)
  })

  it('defers the mail of a domain past its tiny rate instead of holding consumer slots; other domains keep flowing', async () => {
    // slow.example: 120/min = 8 mails every 4 s; two slots only, so a held slot would stall fast.example.
    const events: EmittedEvent[] = []
    const channel = await bed.raw.createChannel()
    await channel.consume(bed.names.events.queue, (msg) => {
      if (msg) events.push(...eventsOfMessage(msg) as EmittedEvent[])
    }, { noAck: true })
    const service = await bed.startMailer({ MAIL_DOMAIN_RATES: 'slow.example=120', MAIL_DOMAIN_RATE_PER_MINUTE: '0', MAIL_PREFETCH: '2' })
    const slow = Array.from({ length: 12 }, (_, i) => `t${i}@slow.example`)
    const fast = Array.from({ length: 10 }, (_, i) => `g${i}@fast.example`)
    for (const to of slow) await bed.publishWelcome(to)
    for (const to of fast) await bed.publishWelcome(to)

    await waitFor(() => delivered(smtp, 'fast.example').size === fast.length, 'fast mail past the throttled backlog')
    expect(delivered(smtp, 'slow.example').size).toBeLessThan(slow.length)
    expect(await metric(service, 'mailer_throttled_total', { reason: 'pace' })).toBeGreaterThan(0)

    await waitFor(() => delivered(smtp, 'slow.example').size === slow.length, 'slow.example mail in its next window')
    await waitFor(() => service.mailer.active === 0, 'mailer idle')
    expect([...delivered(smtp, 'slow.example').values()]).toEqual(slow.map(() => 1))
    expect(await metric(service, 'mailer_messages_total', { outcome: 'throttled' })).toBeGreaterThanOrEqual(slow.length - 8)
    expect(await metric(service, 'mailer_messages_total', { outcome: 'retry' })).toBe(0)
    expect(await depth(bed.raw, bed.names.queues.mail.dlq)).toBe(0)
    await waitFor(() => events.some((e) => e.type === 'mail.throttled'), 'a mail.throttled event')
    const throttled = events.filter((e) => e.type === 'mail.throttled')
    expect(throttled.every((e) => e.data.domain === 'slow.example' && !Number.isNaN(Date.parse(String(e.data.retryAt))))).toBe(true)
    await channel.close()
    await service.close(1000)
  })
})

describe('DomainPace: slowing down on 4xx and recovering', () => {
  const prefix = `test-pace-${namespaceTag()}.`
  const redis = new Redis(REDIS_URL, redisBounds())
  const log = pino({ level: 'silent' })

  afterAll(async () => {
    await unlinkRedisKeys(prefix)
    await redis.quit()
  })

  it('a 4xx halves the domain (one level per window), a 421 also defers the mail, and a quiet period restores full pace', async () => {
    const metrics = new MailerMetrics()
    const pace = new DomainPace({ redis, keyPrefix: prefix, ratePerMinute: 600, rates: new Map([['unpaced.example', 0]]), quietMs: 300, log, metrics })
    const level = (): Promise<number> => metric({ metrics }, 'mailer_domain_pace_level', { domain: 'busy.example' })

    expect(await pace.refused('a@busy.example', Object.assign(new Error('451 greylisted'), { responseCode: 451 }))).toBeUndefined()
    expect(await level()).toBe(1)
    // The other mails in flight that got the same answer do not slow it further.
    const deferral = await pace.refused('b@busy.example', Object.assign(new Error('421 not now'), { responseCode: 421 }))
    expect(deferral).toBeInstanceOf(DeferredError)
    expect(deferral).toMatchObject({ scope: 'busy.example', code: 'SMTP_4XX' })
    expect(deferral!.delayMs).toBeGreaterThan(0)
    expect(await level()).toBe(1)
    // A 5xx, a socket error or an unpaced domain change nothing.
    expect(await pace.refused('c@busy.example', Object.assign(new Error('550 no'), { responseCode: 550 }))).toBeUndefined()
    expect(await pace.refused('d@busy.example', Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBeUndefined()
    expect(await pace.refused('e@unpaced.example', Object.assign(new Error('421 not now'), { responseCode: 421 }))).toBeUndefined()
    expect(await metric({ metrics }, 'mailer_domain_slowdowns_total')).toBe(1)

    await new Promise((resolve) => setTimeout(resolve, 400))
    await pace.admit('f@busy.example')
    expect(await level()).toBe(0)
  })
})
