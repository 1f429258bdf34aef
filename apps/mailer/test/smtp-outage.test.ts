import { depth, freePort, mailerTestbed, waitFor, type MailerTestbed } from './harness'
import { startSmtpSink, type SmtpSink } from './smtp-sink'

async function retries(bed: MailerTestbed, service: Awaited<ReturnType<MailerTestbed['startMailer']>>): Promise<number> {
  const metric = await service.metrics.registry.getSingleMetric('mailer_messages_total')?.get()
  return (metric?.values ?? []).filter((v) => v.labels.outcome === 'retry').reduce((sum, v) => sum + v.value, 0)
}

describe('mailer when the SMTP server is unavailable for a while', () => {
  let smtp: SmtpSink | undefined
  let bed: MailerTestbed

  afterEach(async () => {
    await bed.cleanup()
    await smtp?.close()
    smtp = undefined
  })

  it('retries with backoff while the server answers 4xx and delivers once it recovers', async () => {
    smtp = await startSmtpSink()
    smtp.mode = 'tempfail'
    bed = await mailerTestbed(smtp.url)
    await bed.startMailer({ MAIL_MAX_ATTEMPTS: '10' })
    await bed.publishWelcome('patient@example.com')
    await waitFor(() => smtp!.refused >= 2, 'two refusals')
    smtp.mode = 'accept'
    await waitFor(() => smtp!.mails.length === 1, 'the mail after recovery')
    expect(smtp.mails[0]!.to).toEqual(['patient@example.com'])
    await waitFor(async () => (await depth(bed.raw, bed.names.queues.mail.name)) === 0, 'queue empty')
    expect(await depth(bed.raw, bed.names.queues.mail.dlq)).toBe(0)
    expect(smtp.mails).toHaveLength(1)
  })

  it('retries while the connection is refused and delivers once the server is up', async () => {
    const port = await freePort()
    bed = await mailerTestbed(`smtp://127.0.0.1:${port}`)
    const service = await bed.startMailer({ MAIL_MAX_ATTEMPTS: '10', AMQP_RETRY_DELAYS_MS: '100,200,400,800' })
    const ids = [await bed.publishWelcome('one@example.com'), await bed.publishWelcome('two@example.com')]
    await waitFor(async () => (await retries(bed, service)) >= 2, 'failed attempts')
    smtp = await startSmtpSink(port)
    await waitFor(() => smtp!.mails.length === 2, 'both mails after the server came up')
    expect(smtp.mails.map((m) => m.to[0]).sort()).toEqual(['one@example.com', 'two@example.com'])
    expect(ids).toHaveLength(2)
    expect(await depth(bed.raw, bed.names.queues.mail.dlq)).toBe(0)
  })

  it('dead-letters with the last error once the retries are exhausted, nothing retried forever', async () => {
    smtp = await startSmtpSink()
    smtp.mode = 'tempfail'
    bed = await mailerTestbed(smtp.url)
    await bed.startMailer({ MAIL_MAX_ATTEMPTS: '3' })
    await bed.publishWelcome('never@example.com', 'exhaust-1')
    await waitFor(async () => (await depth(bed.raw, bed.names.queues.mail.dlq)) === 1, 'dead letter')
    const channel = await bed.raw.createChannel()
    const dead = await channel.get(bed.names.queues.mail.dlq, { noAck: true })
    await channel.close()
    expect(dead && dead.properties.headers).toMatchObject({ 'x-failure-kind': 'exhausted', 'x-attempt': 3 })
    expect(String(dead && dead.properties.headers?.['x-failure-reason'])).toMatch(/451/)
    expect(smtp.refused).toBe(3)
    expect(smtp.mails).toHaveLength(0)
  })
})
