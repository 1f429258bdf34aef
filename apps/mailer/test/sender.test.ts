import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Channel } from 'amqplib'
import { dkimVerify } from 'mailauth/lib/dkim/verify'
import type { Pool } from 'pg'
import { USER_ID_HEADER, type EmittedEvent, eventsOfMessage } from '@socialnet/broker'
import { openDatabase } from '@socialnet/db'
import { DeliveryAttempts, SuppressionList, parseVerpAddress } from '@socialnet/sender'
import { depth, mailerTestbed, waitFor, type MailerTestbed } from './harness'
import { startSmtpSink, type SmtpSink } from './smtp-sink'

// A mailer as a real sender runs it: VERP return paths, DKIM signatures, the
// suppression list before every send and a delivery log row for every attempt.
describe('mailer as a sender (suppression list, delivery log, VERP, DKIM)', () => {
  const verp = { local: 'bounces', domain: 'bounces.socialnet.test', secret: 'a-test-secret-of-32-characters!!' }
  const dkim = { domain: 'socialnet.test', selector: 'mail2026' }
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const keyDir = mkdtempSync(join(tmpdir(), 'mailer-dkim-'))
  let smtp: SmtpSink
  let bed: MailerTestbed
  let db: Pool
  let channel: Channel
  let suppressions: SuppressionList
  let attempts: DeliveryAttempts
  const events: EmittedEvent[] = []

  beforeAll(async () => {
    const keyFile = join(keyDir, 'dkim.pem')
    writeFileSync(keyFile, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
    smtp = await startSmtpSink()
    bed = await mailerTestbed(smtp.url)
    channel = await bed.raw.createChannel()
    await channel.consume(bed.names.events.queue, (msg) => {
      if (msg) events.push(...eventsOfMessage(msg) as EmittedEvent[])
    }, { noAck: true })
    await bed.startMailer({
      REPLICA_ID: 'mailer-s1',
      MAIL_MAX_ATTEMPTS: '10',
      BOUNCE_DOMAIN: verp.domain,
      BOUNCE_SECRET: verp.secret,
      DKIM_DOMAIN: dkim.domain,
      DKIM_SELECTOR: dkim.selector,
      DKIM_PRIVATE_KEY_FILE: keyFile
    })
    // The mailer created and migrated the database at start.
    db = await openDatabase(bed.env.DATABASE_URL!, bed.log, 2)
    suppressions = new SuppressionList(db)
    attempts = new DeliveryAttempts(db)
  })

  afterAll(async () => {
    await channel.close()
    await db.end()
    await bed.cleanup()
    await smtp.close()
    rmSync(keyDir, { recursive: true, force: true })
  })

  beforeEach(() => {
    smtp.mode = 'accept'
    smtp.unknownUsers.clear()
  })

  const publish = async (to: string, userId = randomUUID()): Promise<string> => {
    const messageId = randomUUID()
    await bed.publisher.publish({
      type: 'mail.welcome.v1',
      messageId,
      payload: { to, nickname: 'ada', verificationUrl: 'http://localhost:3000/verify?token=abc' },
      headers: { [USER_ID_HEADER]: userId }
    })
    return messageId
  }
  const eventsOf = (messageId: string): EmittedEvent[] => events.filter((e) => e.subject === `mail:${messageId}`)
  const logOf = async (messageId: string) => (await attempts.forMessage(messageId)).map((a) => ({ outcome: a.outcome, smtpCode: a.smtpCode, smtpReply: a.smtpReply, replica: a.replica }))
  const mailsTo = (address: string) => smtp.mails.filter((m) => m.to.includes(address))

  it('does not mail a suppressed address: acks it, logs and events why', async () => {
    await suppressions.recordBounce({ address: 'Gone@Example.com', kind: 'hard', source: 'dsn', detail: '5.1.1' })
    const userId = randomUUID()
    const messageId = await publish('gone@example.com', userId)
    const after = await publish('still-here@example.com')
    await waitFor(() => mailsTo('still-here@example.com').length === 1, 'the mail after the suppressed one')
    await waitFor(() => eventsOf(messageId).some((e) => e.type === 'mail.suppressed'), 'mail.suppressed')
    expect(mailsTo('gone@example.com')).toEqual([])
    expect(eventsOf(messageId).find((e) => e.type === 'mail.suppressed')).toMatchObject({ userId, data: { messageId, reason: 'hard_bounce' } })
    expect(await logOf(messageId)).toEqual([{ outcome: 'suppressed', smtpCode: null, smtpReply: 'suppressed (hard_bounce)', replica: 'mailer-s1' }])
    expect((await attempts.forMessage(messageId))[0]).toMatchObject({ recipient: 'gone@example.com', userId })
    // Acked: neither waiting for a retry nor dead-lettered.
    await waitFor(async () => (await logOf(after)).length === 1, 'the next mail logged')
    expect(await depth(bed.raw, bed.names.queues.mail.name)).toBe(0)
    expect(await depth(bed.raw, bed.names.queues.mail.dlq)).toBe(0)
  })

  it('takes a 5xx at RCPT as a hard bounce: suppresses the address, acks the mail, and sends it nothing more', async () => {
    smtp.unknownUsers.add('nobody@example.com')
    const userId = randomUUID()
    const first = await publish('nobody@example.com', userId)
    await waitFor(() => eventsOf(first).some((e) => e.type === 'mail.suppressed'), 'the address suppressed')
    expect(await suppressions.get('nobody@example.com')).toMatchObject({ reason: 'hard_bounce', source: 'smtp', detail: expect.stringContaining('550') })
    expect(eventsOf(first).find((e) => e.type === 'mail.bounced')).toMatchObject({
      userId, data: { messageId: first, kind: 'hard', source: 'smtp', smtpCode: 550, diagnostic: expect.stringContaining('User unknown') }
    })
    expect(eventsOf(first).some((e) => e.type === 'mail.dead_lettered' || e.type === 'mail.retry_scheduled')).toBe(false)
    await waitFor(async () => (await logOf(first)).length === 1, 'the bounce logged')
    expect(await logOf(first)).toEqual([{ outcome: 'bounced', smtpCode: 550, smtpReply: expect.stringContaining('User unknown'), replica: 'mailer-s1' }])

    // The next mail to it is not even tried, though the server would take it now.
    smtp.unknownUsers.clear()
    const second = await publish('nobody@example.com', userId)
    await waitFor(async () => (await logOf(second)).length === 1, 'the second mail logged')
    expect(await logOf(second)).toEqual([expect.objectContaining({ outcome: 'suppressed', smtpReply: 'suppressed (hard_bounce)' })])
    expect(mailsTo('nobody@example.com')).toEqual([])
    expect(await depth(bed.raw, bed.names.queues.mail.dlq)).toBe(0)
  })

  it('logs every attempt: deferred with the 4xx reply, then sent with the 250', async () => {
    smtp.mode = 'tempfail'
    const messageId = await publish('patient@example.com')
    await waitFor(() => smtp.refused >= 1 && eventsOf(messageId).some((e) => e.type === 'mail.deferred'), 'a deferral')
    smtp.mode = 'accept'
    await waitFor(() => mailsTo('patient@example.com').length === 1, 'the mail after the deferral')
    await waitFor(async () => (await logOf(messageId)).some((a) => a.outcome === 'sent'), 'the sent row')
    const log = await logOf(messageId)
    expect(log.slice(0, -1).every((a) => a.outcome === 'deferred' && a.smtpCode === 451 && /try again later/.test(a.smtpReply ?? ''))).toBe(true)
    expect(log.at(-1)).toEqual({ outcome: 'sent', smtpCode: 250, smtpReply: expect.stringMatching(/^250/), replica: 'mailer-s1' })
    expect(eventsOf(messageId).find((e) => e.type === 'mail.deferred')).toMatchObject({ data: { messageId, attempt: 1, smtpCode: 451, reason: expect.stringContaining('451') } })
    // The deferral accompanies the consumer's own decision; it does not replace it.
    expect(eventsOf(messageId).some((e) => e.type === 'mail.retry_scheduled')).toBe(true)
  })

  it('sends with a VERP return path that names the message, and the From header unchanged', async () => {
    const messageId = await publish('verp@example.com')
    await waitFor(() => mailsTo('verp@example.com').length === 1, 'the mail')
    const [mail] = mailsTo('verp@example.com')
    expect(mail!.from).toMatch(/^bounces\+[0-9a-f-]+\.[0-9a-f]{20}@bounces\.socialnet\.test$/)
    expect(parseVerpAddress(verp, mail!.from)).toEqual({ messageId })
    expect(parseVerpAddress({ ...verp, secret: 'another-secret-of-32-characters!' }, mail!.from)).toEqual({ rejected: 'bad_tag' })
    expect(mail!.raw).toMatch(/^From: Social Network <noreply@socialnet\.local>$/m)
  })

  it('DKIM-signs every mail so that a receiver verifies it against the published key', async () => {
    await publish('dkim@example.com')
    await waitFor(() => mailsTo('dkim@example.com').length === 1, 'the mail')
    const spki = keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')
    const queried: string[] = []
    // The receiver's DNS, answered offline: the TXT record `npm run admin -- dkim generate` prints.
    const resolver = async (name: string, type: string): Promise<string[][]> => {
      queried.push(`${name} ${type}`)
      if (name === `${dkim.selector}._domainkey.${dkim.domain}` && type === 'TXT') return [[`v=DKIM1; k=rsa; p=${spki}`]]
      throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' })
    }
    const result = await dkimVerify(Buffer.from(mailsTo('dkim@example.com')[0]!.raw, 'latin1'), { resolver })
    expect(queried).toContain(`${dkim.selector}._domainkey.${dkim.domain} TXT`)
    expect(result.results).toHaveLength(1)
    expect(result.results[0]).toMatchObject({ signingDomain: dkim.domain, selector: dkim.selector, status: { result: 'pass' } })

    // The same mail altered on its way no longer verifies.
    const tampered = mailsTo('dkim@example.com')[0]!.raw.replace('welcome to Social Network', 'welcome to Evil Network')
    const forged = await dkimVerify(Buffer.from(tampered, 'latin1'), { resolver })
    expect(forged.results[0]?.status.result).not.toBe('pass')
  })

  it('prunes delivery log rows and bounce history older than MAIL_LOG_RETENTION_DAYS (at start, then hourly); suppressions stay', async () => {
    await db.query(`INSERT INTO mail_attempts (message_id, recipient, outcome, replica, at)
      VALUES ('aged-1', 'aged@example.com', 'sent', 'x', now() - interval '31 days'), ('kept-1', 'aged@example.com', 'sent', 'x', now() - interval '29 days')`)
    await db.query(`INSERT INTO mail_bounces (address, kind, source, received_at)
      VALUES ('aged@example.com', 'soft', 'dsn', now() - interval '31 days'), ('aged@example.com', 'soft', 'dsn', now() - interval '29 days')`)
    await bed.startMailer({ REPLICA_ID: 'mailer-s2', MAIL_LOG_RETENTION_DAYS: '30' })
    await waitFor(async () => (await attempts.forMessage('aged-1')).length === 0, 'the aged delivery log row pruned')
    await waitFor(async () => (await db.query("SELECT 1 FROM mail_bounces WHERE address = 'aged@example.com'")).rowCount === 1, 'the aged bounce pruned')
    expect(await attempts.forMessage('kept-1')).toHaveLength(1)
    expect(await suppressions.get('gone@example.com')).toMatchObject({ reason: 'hard_bounce' })
  })
})
