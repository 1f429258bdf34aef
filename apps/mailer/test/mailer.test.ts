import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { depth, mailerTestbed, waitFor, type MailerTestbed } from './harness'
import { startSmtpSink, type SmtpSink } from './smtp-sink'

/** Finds the verification link in a received mail (text part). */
function linkIn(decoded: string): string {
  const match = /https?:\/\/\S+\/verify\?token=[A-Za-z0-9_-]+/.exec(decoded)
  if (!match) throw new Error('no verification link in the mail')
  return match[0]
}

describe('mailer', () => {
  let smtp: SmtpSink
  let web: Server
  const verifiedTokens: string[] = []
  let bed: MailerTestbed

  beforeAll(async () => {
    smtp = await startSmtpSink()
    // Stands in for the console at PUBLIC_URL: records the tokens of links people open.
    web = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (url.pathname === '/verify') verifiedTokens.push(url.searchParams.get('token') ?? '')
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"verified":true}')
    })
    web.listen(0, '127.0.0.1')
    await once(web, 'listening')
    bed = await mailerTestbed(smtp.url, `http://127.0.0.1:${(web.address() as AddressInfo).port}`)
    await bed.startMailer()
  })

  afterAll(async () => {
    await bed.cleanup()
    await smtp.close()
    await new Promise((resolve) => web.close(resolve))
  })

  beforeEach(() => {
    smtp.mode = 'accept'
    smtp.mails.length = 0
  })

  it('sends exactly one welcome mail whose verification link works', async () => {
    await bed.publishWelcome('ada@example.com')
    await waitFor(() => smtp.mails.length === 1, 'the welcome mail')
    const [mail] = smtp.mails
    expect(mail!.to).toEqual(['ada@example.com'])
    expect(mail!.from).toBe('noreply@socialnet.local')
    expect(mail!.decoded).toMatch(/^Subject: .*Welcome/im)
    expect(mail!.decoded).toMatch(/Content-Type: text\/plain/)
    expect(mail!.decoded).toMatch(/Content-Type: text\/html/)
    // The testbed's nickname could carry markup: the greeting leaves it out.
    expect(mail!.decoded).toContain('<p>Hi,</p>')
    expect(mail!.decoded).not.toContain('Lovelace')
    const link = linkIn(mail!.decoded)
    expect(mail!.decoded).toContain(`href="${link}"`)
    const response = await fetch(link)
    expect(response.status).toBe(200)
    expect(verifiedTokens).toEqual([new URL(link).searchParams.get('token')])
    // Nothing else arrives.
    await waitFor(async () => (await depth(bed.raw, bed.names.queues.mail.name)) === 0, 'queue empty')
    expect(smtp.mails).toHaveLength(1)
  })

  it('sends a ready-made mail.send.v1 message as given', async () => {
    await bed.publisher.publish({
      type: 'mail.send.v1',
      messageId: 'send-1',
      payload: { to: 'grace@example.com', subject: 'Your job is done', text: 'All good.', html: '<p>All <b>good</b>.</p>' }
    })
    await waitFor(() => smtp.mails.length === 1, 'the mail')
    expect(smtp.mails[0]!.to).toEqual(['grace@example.com'])
    expect(smtp.mails[0]!.decoded).toContain('Subject: Your job is done')
    expect(smtp.mails[0]!.decoded).toContain('<p>All <b>good</b>.</p>')
  })

  it('sends one mail for a message id published several times', async () => {
    for (let i = 0; i < 3; i++) await bed.publishWelcome('dup@example.com', 'dup-1')
    await bed.publishWelcome('after-dup@example.com')
    await waitFor(() => smtp.mails.some((m) => m.to[0] === 'after-dup@example.com'), 'the mail after the duplicates')
    await waitFor(async () => (await depth(bed.raw, bed.names.queues.mail.name)) === 0, 'queue empty')
    expect(smtp.mails.filter((m) => m.to[0] === 'dup@example.com')).toHaveLength(1)
  })

  it('dead-letters a mail the SMTP server refuses for good (5xx) with the reason, and keeps going', async () => {
    smtp.mode = 'permfail'
    await bed.publishWelcome('rejected@example.com', 'perm-1')
    await waitFor(async () => (await depth(bed.raw, bed.names.queues.mail.dlq)) === 1, 'dead letter')
    const channel = await bed.raw.createChannel()
    const dead = await channel.get(bed.names.queues.mail.dlq, { noAck: true })
    await channel.close()
    expect(dead && dead.properties.messageId).toBe('perm-1')
    expect(dead && dead.properties.headers?.['x-failure-kind']).toBe('permanent')
    expect(String(dead && dead.properties.headers?.['x-failure-reason'])).toMatch(/550/)
    expect(smtp.refused).toBeGreaterThanOrEqual(1)
    smtp.mode = 'accept'
    await bed.publishWelcome('next@example.com')
    await waitFor(() => smtp.mails.length === 1, 'the next mail')
  })

  it('dead-letters poison messages at once and keeps running', async () => {
    const channel = await bed.raw.createConfirmChannel()
    const props = { persistent: true, contentType: 'application/json', type: 'mail.welcome.v1' }
    channel.publish(bed.names.exchange, 'mail.welcome.v1', Buffer.from('{"to": '), { ...props, messageId: 'poison-json' })
    channel.publish(bed.names.exchange, 'mail.welcome.v1', Buffer.from(JSON.stringify({ to: 'x@example.com' })), { ...props, messageId: 'poison-shape' })
    channel.publish(bed.names.exchange, 'job.log.v1', Buffer.from('{}'), { ...props, messageId: 'poison-elsewhere', type: 'job.log.v1' })
    channel.publish(bed.names.exchange, 'mail.welcome.v1', Buffer.from('{}'), { ...props, messageId: 'poison-type', type: 'job.log.v1' })
    await channel.waitForConfirms()
    await channel.close()
    // Valid by schema but linking outside PUBLIC_URL: a forged message must not become a phishing mail.
    await bed.publishWelcome('phish@example.com', 'poison-link', 'https://evil.example/verify?token=x')
    await bed.publishWelcome('survivor@example.com')
    await waitFor(() => smtp.mails.some((m) => m.to[0] === 'survivor@example.com'), 'a good mail after the poison')
    await waitFor(async () => (await depth(bed.raw, bed.names.queues.mail.dlq)) === 4, 'four dead letters')
    const dlq = await bed.raw.createChannel()
    const kinds: Record<string, unknown> = {}
    for (let i = 0; i < 4; i++) {
      const m = await dlq.get(bed.names.queues.mail.dlq, { noAck: true })
      if (m) kinds[m.properties.messageId as string] = m.properties.headers?.['x-failure-kind']
    }
    await dlq.close()
    expect(kinds).toEqual({ 'poison-json': 'malformed', 'poison-shape': 'malformed', 'poison-type': 'malformed', 'poison-link': 'permanent' })
    expect(smtp.mails.map((m) => m.to[0])).toEqual(['survivor@example.com'])
  })
})
