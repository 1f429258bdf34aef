import { randomBytes, randomUUID } from 'node:crypto'
import { DeliveryAttempts, SuppressionList } from '@socialnet/sender'
import { bouncesTestbed, waitFor, VERP, type BouncesTestbed } from './harness'
import { arf, dsn } from './report-messages'

describe('bounce receiver over SMTP', () => {
  let bed: BouncesTestbed
  let attempts: DeliveryAttempts
  let suppressions: SuppressionList

  beforeAll(async () => {
    bed = await bouncesTestbed()
    attempts = new DeliveryAttempts(bed.db)
    suppressions = new SuppressionList(bed.db)
  })

  afterAll(async () => {
    await bed.cleanup()
  })

  /** A mail the mailer sent (its delivery log row) to a fresh address; returns its id, address and user. */
  const sentMail = async (): Promise<{ messageId: string; address: string; userId: string }> => {
    const messageId = randomUUID()
    const address = `ada.${randomBytes(4).toString('hex')}@example.com`
    const userId = randomUUID()
    await attempts.record([{ messageId, recipient: address, userId, outcome: 'sent', smtpCode: 250, smtpReply: '250 2.0.0 Ok', replica: 'mailer-1' }])
    return { messageId, address, userId }
  }
  const hardDsn = (messageId: string, finalRecipient: string): string =>
    dsn(bed.returnPath(messageId), [{ finalRecipient, action: 'failed', status: '5.1.1', diagnostic: `550 5.1.1 <${finalRecipient}>: Recipient address rejected: User unknown in local recipient table` }])
  const softDsn = (messageId: string, address: string): string =>
    dsn(bed.returnPath(messageId), [{ finalRecipient: address, action: 'failed', status: '4.2.2', diagnostic: '452 4.2.2 Mailbox full' }])
  const eventsOf = (messageId: string) => bed.events.filter((e) => e.subject === `mail:${messageId}`)

  test('a hard DSN suppresses the address we sent to, logs a bounced attempt and emits mail.bounced and mail.suppressed', async () => {
    const { messageId, address, userId } = await sentMail()
    const reply = await bed.send(bed.returnPath(messageId), hardDsn(messageId, address))
    expect(reply.code).toBe(250)

    expect(await suppressions.get(address)).toMatchObject({ address, reason: 'hard_bounce', source: 'dsn', detail: expect.stringContaining('5.1.1') })
    const log = await attempts.forMessage(messageId)
    expect(log.map((a) => a.outcome)).toEqual(['sent', 'bounced'])
    expect(log[1]).toMatchObject({ recipient: address, userId, smtpCode: 550, replica: 'bounces-test', smtpReply: expect.stringContaining('User unknown') })

    await waitFor(() => eventsOf(messageId).length === 2, 'mail.bounced and mail.suppressed')
    expect(eventsOf(messageId)).toEqual([
      expect.objectContaining({ type: 'mail.bounced', service: 'bounces', replica: 'bounces-test', userId, data: { messageId, kind: 'hard', source: 'dsn', status: '5.1.1', diagnostic: expect.stringContaining('550 5.1.1') } }),
      expect.objectContaining({ type: 'mail.suppressed', service: 'bounces', userId, data: { messageId, reason: 'hard_bounce' } })
    ])
    expect(await bed.service.metrics.reportCount('hard')).toBeGreaterThanOrEqual(1)
  })

  test('the address suppressed is ours, not the one the report names', async () => {
    const { messageId, address } = await sentMail()
    const victim = `victim.${randomBytes(4).toString('hex')}@example.org`
    expect((await bed.send(bed.returnPath(messageId), hardDsn(messageId, victim))).code).toBe(250)
    expect(await suppressions.get(address)).toMatchObject({ reason: 'hard_bounce' })
    expect(await suppressions.get(victim)).toBeUndefined()
  })

  test('two soft bounces in a week do not suppress; the third does (soft_bounce_limit)', async () => {
    const { messageId, address } = await sentMail()
    for (let i = 0; i < 2; i++) expect((await bed.send(bed.returnPath(messageId), softDsn(messageId, address))).code).toBe(250)
    expect(await suppressions.get(address)).toBeUndefined()
    expect((await attempts.forMessage(messageId)).filter((a) => a.outcome === 'bounced')).toHaveLength(2)

    const delayed = dsn(bed.returnPath(messageId), [{ finalRecipient: address, action: 'delayed', status: '4.4.1', diagnostic: 'connect to mail.example.com[192.0.2.9]:25: Connection timed out' }])
    expect((await bed.send(bed.returnPath(messageId), delayed)).code).toBe(250)
    expect(await suppressions.get(address)).toMatchObject({ reason: 'soft_bounce_limit', source: 'dsn' })
    await waitFor(() => eventsOf(messageId).some((e) => e.type === 'mail.suppressed'), 'mail.suppressed')
    expect(eventsOf(messageId).filter((e) => e.type === 'mail.bounced').map((e) => e.data.kind)).toEqual(['soft', 'soft', 'soft'])
  })

  test('an ARF complaint suppresses (complaint), without a delivery log row', async () => {
    const { messageId, address, userId } = await sentMail()
    expect((await bed.send(bed.returnPath(messageId), arf(bed.returnPath(messageId), address))).code).toBe(250)
    expect(await suppressions.get(address)).toMatchObject({ reason: 'complaint', source: 'arf' })
    expect((await attempts.forMessage(messageId)).map((a) => a.outcome)).toEqual(['sent'])
    await waitFor(() => eventsOf(messageId).length === 2, 'complaint events')
    expect(eventsOf(messageId)[0]).toMatchObject({ type: 'mail.bounced', userId, data: { messageId, kind: 'complaint', status: 'abuse' } })
  })

  test('delivered/relayed DSNs and not-spam feedback change nothing', async () => {
    const { messageId, address } = await sentMail()
    const before = await bed.service.metrics.reportCount('ignored')
    const relayed = dsn(bed.returnPath(messageId), [{ finalRecipient: address, action: 'relayed', status: '2.0.0' }])
    expect((await bed.send(bed.returnPath(messageId), relayed)).code).toBe(250)
    expect((await bed.send(bed.returnPath(messageId), arf(bed.returnPath(messageId), address, 'not-spam'))).code).toBe(250)
    expect(await suppressions.get(address)).toBeUndefined()
    expect(await bed.service.metrics.reportCount('ignored')).toBe(before + 2)
  })

  test('a forged tag is refused at RCPT with 550, and nothing is suppressed', async () => {
    const { messageId, address } = await sentMail()
    const forged = `${VERP.local}+${messageId}.${'0'.repeat(20)}@${VERP.domain}`
    const reply = await bed.send(forged, hardDsn(messageId, address))
    expect(reply.code).toBe(550)
    expect(reply.response).toMatch(/does not verify/)
    // Signed with another secret: the same.
    const otherSecret = `${VERP.local}+${messageId}.${'a1b2c3d4e5f60718293a'}@${VERP.domain}`
    expect((await bed.send(otherSecret, hardDsn(messageId, address))).code).toBe(550)
    expect(await suppressions.get(address)).toBeUndefined()
    expect((await attempts.forMessage(messageId)).map((a) => a.outcome)).toEqual(['sent'])
  })

  test('a recipient that is not a bounce address is refused with 550 (no relay)', async () => {
    for (const to of ['postmaster@example.com', `someone@${VERP.domain}`, `${VERP.local}@${VERP.domain}`]) {
      expect([to, (await bed.send(to, 'Subject: hi\r\n\r\nhello\r\n')).code]).toEqual([to, 550])
    }
  })

  test('several recipients: each is verified; the report applies to the verified ones', async () => {
    const first = await sentMail()
    const second = await sentMail()
    const forged = `${VERP.local}+${second.messageId}.${'f'.repeat(20)}@${VERP.domain}`
    const reply = await bed.send([bed.returnPath(first.messageId), forged, bed.returnPath(second.messageId)], hardDsn(first.messageId, first.address))
    expect(reply.code).toBe(250)
    expect(reply.rejected).toEqual([forged])
    expect(await suppressions.get(first.address)).toMatchObject({ reason: 'hard_bounce' })
    expect(await suppressions.get(second.address)).toMatchObject({ reason: 'hard_bounce' })
  })

  test('a verified tag for a mail the delivery log does not know changes nothing (unknown_message)', async () => {
    const messageId = randomUUID()
    const before = await bed.service.metrics.reportCount('unknown_message')
    const claimed = `claimed.${randomBytes(4).toString('hex')}@example.com`
    expect((await bed.send(bed.returnPath(messageId), hardDsn(messageId, claimed))).code).toBe(250)
    expect(await suppressions.get(claimed)).toBeUndefined()
    expect(await bed.service.metrics.reportCount('unknown_message')).toBe(before + 1)
  })

  test('garbage is accepted (250) and counted malformed; the receiver keeps serving', async () => {
    const { messageId, address } = await sentMail()
    const to = bed.returnPath(messageId)
    const boundary = 'b0undary'
    const garbage: Array<string | Buffer> = [
      '',
      'no headers at all, just words\r\n',
      randomBytes(4096),
      Buffer.from(Array.from({ length: 2000 }, (_, i) => String.fromCharCode(i % 256)).join(''), 'latin1'),
      'Subject: out of office\r\nContent-Type: text/plain\r\n\r\nI am away until Monday.\r\n',
      'Content-Type: multipart/report; report-type=delivery-status\r\n\r\nno boundary here\r\n',
      `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"\r\n\r\n--${boundary}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\nFinal-Recipient: rfc822; ${address}\r\nAction: failed\r\n\r\n--${boundary}--\r\n`,
      `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"\r\n\r\n--${boundary}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\nAction: failed\r\nStatus: 5.x.y\r\n\r\n--${boundary}--\r\n`,
      `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"\r\n\r\n--${boundary}\r\nContent-Type: text/plain\r\n\r\nno status part\r\n--${boundary}--\r\n`,
      `Content-Type: multipart/report; report-type=feedback-report; boundary="${boundary}"\r\n\r\n--${boundary}\r\nContent-Type: message/feedback-report\r\n\r\nUser-Agent: x\r\n\r\n--${boundary}--\r\n`,
      `Content-Type: multipart/report; report-type=disposition-notification; boundary="${boundary}"\r\n\r\n--${boundary}--\r\n`,
      `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"\r\n\r\n--${boundary}\r\nContent-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n--${boundary}`,
      `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"\r\n\r\n` + `--${boundary}\r\nContent-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n`.repeat(200),
      `${'X-Long: ' + 'a'.repeat(100_000)}\r\n\r\nbody\r\n`
    ]
    const before = await bed.service.metrics.reportCount('malformed')
    for (const [i, body] of garbage.entries()) {
      expect([i, (await bed.send(to, body)).code]).toEqual([i, 250])
    }
    expect(await bed.service.metrics.reportCount('malformed')).toBe(before + garbage.length)
    expect(await suppressions.get(address)).toBeUndefined()

    // Still serving: a real report after all that is applied.
    expect((await bed.send(to, hardDsn(messageId, address))).code).toBe(250)
    expect(await suppressions.get(address)).toMatchObject({ reason: 'hard_bounce' })
  })

  test('mangled copies of a real DSN (cut short, bytes flipped) are all answered 250; the receiver keeps serving', async () => {
    // Each mangled copy names a mail of its own: what it does to that address is not the point here.
    for (let i = 0; i < 40; i++) {
      const { messageId, address } = await sentMail()
      const full = Buffer.from(hardDsn(messageId, address))
      const copy = full.subarray(0, 1 + Math.floor(Math.random() * full.length))
      for (let flips = 0; flips < i % 8; flips++) copy[Math.floor(Math.random() * copy.length)] = Math.floor(Math.random() * 256)
      expect([i, (await bed.send(bed.returnPath(messageId), copy)).code]).toEqual([i, 250])
    }
    const { messageId, address } = await sentMail()
    expect((await bed.send(bed.returnPath(messageId), hardDsn(messageId, address))).code).toBe(250)
    expect(await suppressions.get(address)).toMatchObject({ reason: 'hard_bounce' })
  })

  test('a DSN whose diagnostic carries a NUL byte is applied (250), not answered 451 for ever', async () => {
    // Found by the mangled copies above: a flipped byte that became 0x00 made Postgres refuse the row.
    const { messageId, address } = await sentMail()
    const report = dsn(bed.returnPath(messageId), [{ finalRecipient: address, action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 no\u0000 such user' }])
    expect((await bed.send(bed.returnPath(messageId), report)).code).toBe(250)
    expect(await suppressions.get(address)).toMatchObject({ reason: 'hard_bounce', detail: '5.1.1 550 5.1.1 no such user' })
  })

  test('when the database fails the report is answered 451 (the sending MTA retries), and applied when it is sent again', async () => {
    const { messageId, address } = await sentMail()
    await bed.db.query('ALTER TABLE mail_bounces RENAME TO mail_bounces_away')
    try {
      const reply = await bed.send(bed.returnPath(messageId), hardDsn(messageId, address))
      expect(reply.code).toBe(451)
    } finally {
      await bed.db.query('ALTER TABLE mail_bounces_away RENAME TO mail_bounces')
    }
    expect(await suppressions.get(address)).toBeUndefined()
    expect((await bed.send(bed.returnPath(messageId), hardDsn(messageId, address))).code).toBe(250)
    expect(await suppressions.get(address)).toMatchObject({ reason: 'hard_bounce' })
  })

  test('a message past 1 MiB is refused with 552 and not applied', async () => {
    const { messageId, address } = await sentMail()
    const padding = `X-Padding: ${'p'.repeat(998 - 11)}\r\n`.repeat(1100)
    const big = padding + hardDsn(messageId, address)
    const reply = await bed.send(bed.returnPath(messageId), big)
    expect(reply.code).toBe(552)
    expect(await suppressions.get(address)).toBeUndefined()
  })
})
