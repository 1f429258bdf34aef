import type { ChannelModel } from 'amqplib'
import { useTestApp } from '../helper'
import { signUp, type TestAccount } from '../accounts'
import { AMQP_URL } from '../mail-queue'
import { connectAmqp, waitFor, waitForValue } from '@socialnet/testing'
import { promoteToAdmin } from '../../src/users/repository'
import { startMailer, startSmtp, type MailerProcess, type Smtp } from './dlq-harness'

interface Letter { messageId: string; type: string; kind: string; code: string | null; reason: string; attempts: number; firstFailedAt: string; lastFailedAt: string; originalQueue: string; redriven: { at: string; by: string } | null; preview?: string }

describe('dead letters: /v1/admin/dlq/{queue} with a real mailer and SMTP server', () => {
  const t = useTestApp({ PUBLIC_URL: 'http://social.test:8080' }, { waitForBroker: true })
  let smtp: Smtp
  let mailer: MailerProcess
  let admin: TestAccount
  let raw: ChannelModel

  beforeAll(async () => {
    smtp = await startSmtp()
    mailer = startMailer({
      AMQP_PREFIX: t.env.config.AMQP_PREFIX,
      AMQP_RETRY_DELAYS_MS: '50,100',
      DATABASE_URL: t.env.env.DATABASE_URL!,
      SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      PUBLIC_URL: 'http://social.test:8080'
    })
    raw = await connectAmqp(AMQP_URL)
    admin = await signUp(t.app)
    await promoteToAdmin(t.app.db, admin.email)
    // The admin's own welcome mail goes through first.
    await waitFor(() => smtp.mails.some((m) => m.to.includes(admin.email)), 'the admin\'s welcome mail')
  })

  afterAll(async () => {
    expect(await mailer.stop()).toBe(0)
    await raw.close()
    await smtp.close()
  })

  const list = async (query = ''): Promise<{ total: number; dlq: string; messages: Letter[] }> => {
    const res = await t.app.inject({ url: `/v1/admin/dlq/mail${query}`, headers: admin.auth })
    expect(res.statusCode).toBe(200)
    return res.json()
  }
  const replay = (body: unknown) => t.app.inject({ method: 'POST', url: '/v1/admin/dlq/mail/replay', headers: admin.auth, payload: body as object })
  const mailsTo = (email: string) => smtp.mails.filter((m) => m.to.includes(email)).length

  test('SMTP 550 -> dead letter with the reason -> dry run moves nothing -> fixed -> replay -> delivered exactly once, even if replayed twice', async () => {
    smtp.refuse = true
    const ada = await signUp(t.app)
    const { messages: [letter] } = await waitForValue(async () => { const l = await list(); return l.total === 1 ? l : undefined }, 'one dead letter')
    expect(letter).toEqual({
      messageId: expect.any(String),
      type: 'mail.welcome.v1',
      kind: 'permanent',
      code: 'SMTP_5XX',
      reason: expect.stringMatching(/^SMTP refused the mail: .*550 Relaying denied/),
      attempts: 1,
      firstFailedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      lastFailedAt: letter!.firstFailedAt,
      originalQueue: `${t.env.config.AMQP_PREFIX}socialnet.mail`,
      redriven: null,
      bytes: expect.any(Number)
    })
    // Reading loses nothing and changes nothing that matters.
    const peeked = await list('?preview=true')
    expect(peeked.total).toBe(1)
    expect(peeked.messages[0]).toEqual({ ...letter, preview: expect.stringContaining(ada.email) })

    const dry = await replay({ all: true, dryRun: true })
    expect(dry.json()).toEqual({ queue: 'mail', dryRun: true, replayed: 1, messageIds: [letter!.messageId], notFound: [], remaining: 1 })
    expect((await list()).total).toBe(1)

    smtp.refuse = false
    const res = await replay({ messageIds: [letter!.messageId, 'no-such-message'] })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ queue: 'mail', dryRun: false, replayed: 1, messageIds: [letter!.messageId], notFound: ['no-such-message'], remaining: 0 })
    await waitFor(() => mailsTo(ada.email) === 1, 'the replayed mail')

    // A replay that crashed after the broker confirmed the copy and before it acked the
    // dead letter leaves the message in both queues: replaying that leftover sends nothing.
    const channel = await raw.createConfirmChannel()
    const mailQueue = `${t.env.config.AMQP_PREFIX}socialnet.mail`
    channel.sendToQueue(`${mailQueue}.dlq`, Buffer.from(JSON.stringify({ to: ada.email, nickname: ada.nickname, verificationUrl: 'http://social.test:8080/v1/users/verify?token=x' })), {
      persistent: true, messageId: letter!.messageId, type: 'mail.welcome.v1', contentType: 'application/json'
    })
    await channel.waitForConfirms()
    await channel.close()
    expect((await replay({ all: true })).json()).toMatchObject({ replayed: 1, remaining: 0 })
    await waitFor(() => mailer.log.includes('mail already sent, skipping the duplicate'), 'the duplicate skipped')
    expect(mailsTo(ada.email)).toBe(1)
  })

  test('a replayed message that fails again at once is listed again with who replayed it and its first failure time; purge empties the queue', async () => {
    smtp.refuse = true
    const bob = await signUp(t.app)
    const carol = await signUp(t.app)
    const { messages } = await waitForValue(async () => { const l = await list('?preview=true'); return l.total === 2 ? l : undefined }, 'two dead letters')
    const first = messages.find((m) => m.preview!.includes(bob.email))!
    // Replayed while the cause is still there: the result counts the one left, then the replayed one is back.
    expect((await replay({ messageIds: [first.messageId] })).json()).toMatchObject({ replayed: 1, remaining: 1 })
    const again = await waitForValue(async () => { const l = await list(); return l.total === 2 && l.messages.some((m) => m.redriven) ? l : undefined }, 'the replayed letter dead again')
    const back = again!.messages.find((m) => m.messageId === first.messageId)!
    expect(back).toMatchObject({ attempts: 1, redriven: { at: expect.any(String), by: `user:${admin.id} <${admin.email}>` }, firstFailedAt: first.firstFailedAt })
    expect(back.lastFailedAt > back.firstFailedAt).toBe(true)
    expect(back.lastFailedAt >= back.redriven!.at).toBe(true)

    const purge = await t.app.inject({ method: 'DELETE', url: '/v1/admin/dlq/mail', headers: admin.auth })
    expect(purge.statusCode).toBe(200)
    expect(purge.json()).toEqual({ queue: 'mail', purged: 2 })
    expect((await list()).total).toBe(0)
    expect(mailsTo(bob.email) + mailsTo(carol.email)).toBe(0)
    smtp.refuse = false
  })

  test('a replay by an id that is not there moves nothing, and the dead letters looked at while searching still count as left', async () => {
    const channel = await raw.createConfirmChannel()
    const dlq = `${t.env.config.AMQP_PREFIX}socialnet.mail.dlq`
    for (const id of ['left-1', 'left-2']) {
      channel.sendToQueue(dlq, Buffer.from('{}'), { persistent: true, messageId: id, type: 'mail.welcome.v1', contentType: 'application/json' })
    }
    await channel.waitForConfirms()
    await channel.close()
    const res = await replay({ messageIds: ['nope-1'] })
    expect(res.json()).toEqual({ queue: 'mail', dryRun: false, replayed: 0, messageIds: [], notFound: ['nope-1'], remaining: 2 })
    expect((await list()).total).toBe(2)
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/admin/dlq/mail', headers: admin.auth })).json()).toEqual({ queue: 'mail', purged: 2 })
  })

  test('401 without a token, 403 for a user, 404 for an unknown queue, 400 for a bad replay', async () => {
    const user = await signUp(t.app)
    for (const [method, url] of [['GET', '/v1/admin/dlq/mail'], ['POST', '/v1/admin/dlq/mail/replay'], ['DELETE', '/v1/admin/dlq/mail']] as const) {
      expect((await t.app.inject({ method, url, payload: method === 'POST' ? { all: true } : undefined })).statusCode).toBe(401)
      const refused = await t.app.inject({ method, url, headers: user.auth, payload: method === 'POST' ? { all: true } : undefined })
      expect(refused.statusCode).toBe(403)
    }
    const unknown = await t.app.inject({ url: '/v1/admin/dlq/socialnet.mail', headers: admin.auth })
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json()).toEqual({ error: 'NO_SUCH_QUEUE', message: 'no work queue named "socialnet.mail"; the work queues are mail, jobs and thumbnails' })
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/admin/dlq/orders', headers: admin.auth })).statusCode).toBe(404)

    for (const body of [{}, { all: true, messageIds: ['a'] }, { dryRun: true }]) {
      const res = await replay(body)
      expect(res.statusCode).toBe(400)
      expect(res.json()).toEqual({ error: 'INVALID_REPLAY', message: 'give exactly one of messageIds (a list of ids) or all: true' })
    }
    for (const body of [{ messageIds: [] }, { all: false }, { all: true, extra: 1 }]) expect((await replay(body)).statusCode).toBe(400)
    expect((await t.app.inject({ url: '/v1/admin/dlq/mail?limit=501', headers: admin.auth })).statusCode).toBe(400)
    // The other work queues answer too (empty here).
    for (const q of ['jobs', 'thumbnails']) {
      const res = await t.app.inject({ url: `/v1/admin/dlq/${q}`, headers: admin.auth })
      expect(res.json()).toEqual({ queue: q, dlq: `${t.env.config.AMQP_PREFIX}socialnet.${q}.dlq`, total: 0, messages: [] })
    }
  })
})
