import { randomBytes } from 'node:crypto'
import { connect, type ChannelModel } from 'amqplib'
import { useTestApp } from '../helper'
import { signUp, type TestAccount } from '../accounts'
import { AMQP_URL } from '../mail-queue'
import { promoteToAdmin } from '../../src/users/repository'

// One dead letter at a time: GET and DELETE /v1/admin/dlq/{queue}/messages/{messageId}, with
// bodies as a poison message brings them (binary, cut JSON, far too long), put straight into
// the real dead-letter queue.
describe('one dead letter: show and delete by messageId', () => {
  const t = useTestApp({}, { waitForBroker: true })
  let admin: TestAccount
  let raw: ChannelModel
  const dlq = () => `${t.env.config.AMQP_PREFIX}socialnet.mail.dlq`
  const long = `{"text":"${'é'.repeat(40_000)}"}` // 80,012 bytes, a 2-byte character across the 64 KiB cut
  const binary = Buffer.concat([Buffer.from([0x00, 0xff, 0x1b, 0x5b, 0x32, 0x4a]), randomBytes(58)])

  beforeAll(async () => {
    admin = await signUp(t.app)
    await promoteToAdmin(t.app.db, admin.email)
    raw = await connect(AMQP_URL)
  })

  afterAll(async () => {
    await raw.close()
  })

  /** Puts dead letters into the mail dlq, as the consumer leaves them. */
  async function deadLetter(letters: Array<{ id: string; body: Buffer | string; reason?: string }>): Promise<void> {
    const channel = await raw.createConfirmChannel()
    for (const { id, body, reason } of letters) {
      channel.sendToQueue(dlq(), Buffer.from(body), {
        persistent: true,
        messageId: id,
        type: 'mail.welcome.v1',
        contentType: 'application/json',
        timestamp: 1_796_000_000,
        headers: { 'x-attempt': 1, 'x-failure-kind': 'malformed', 'x-failure-code': 'MALFORMED', 'x-failure-reason': reason ?? 'body is not valid JSON', 'x-failed-at': '2026-12-01T10:00:00.000Z', 'x-first-failed-at': '2026-12-01T09:00:00.000Z', 'x-bytes': Buffer.from([1, 2, 3]) }
      })
    }
    await channel.waitForConfirms()
    await channel.close()
  }
  const show = (id: string, auth: Record<string, string> = admin.auth) => t.app.inject({ url: `/v1/admin/dlq/mail/messages/${encodeURIComponent(id)}`, headers: auth })
  const remove = (id: string, auth: Record<string, string> = admin.auth) => t.app.inject({ method: 'DELETE', url: `/v1/admin/dlq/mail/messages/${encodeURIComponent(id)}`, headers: auth })
  const list = async () => (await t.app.inject({ url: '/v1/admin/dlq/mail', headers: admin.auth })).json<{ total: number; messages: Array<{ messageId: string }> }>()
  const purge = () => t.app.inject({ method: 'DELETE', url: '/v1/admin/dlq/mail', headers: admin.auth })

  test('shows text as text, binary as base64, a long body cut at 64 KiB on a character boundary; reading loses none', async () => {
    await deadLetter([{ id: 'text-1', body: '{"to":"ada@example.com", "verificationUrl": "http://x/verify?token=abc"' }, { id: 'bin-1', body: binary }, { id: 'long-1', body: long }])

    const text = await show('text-1')
    expect(text.statusCode).toBe(200)
    expect(text.headers['cache-control']).toBe('no-store')
    expect(text.json()).toEqual({
      queue: 'mail',
      message: expect.objectContaining({ messageId: 'text-1', kind: 'malformed', code: 'MALFORMED', attempts: 1, firstFailedAt: '2026-12-01T09:00:00.000Z', bytes: 71 }),
      properties: expect.objectContaining({ messageId: 'text-1', type: 'mail.welcome.v1', contentType: 'application/json', deliveryMode: 2, timestamp: '2026-11-30T00:53:20.000Z' }),
      headers: expect.objectContaining({ 'x-failure-reason': 'body is not valid JSON', 'x-bytes': { base64: 'AQID', bytes: 3 } }),
      body: { encoding: 'utf8', data: '{"to":"ada@example.com", "verificationUrl": "http://x/verify?token=abc"', bytes: 71, truncated: false }
    })

    const bin = (await show('bin-1')).json<{ body: { encoding: string; data: string; bytes: number; truncated: boolean } }>()
    expect(bin.body).toEqual({ encoding: 'base64', data: binary.toString('base64'), bytes: 64, truncated: false })

    const cut = (await show('long-1')).json<{ body: { encoding: string; data: string; bytes: number; truncated: boolean } }>()
    expect(cut.body).toMatchObject({ encoding: 'utf8', bytes: Buffer.byteLength(long), truncated: true })
    expect(Buffer.byteLength(cut.body.data)).toBe(65535) // the 9 bytes of '{"text":"', then whole 2-byte characters
    expect(long.startsWith(cut.body.data)).toBe(true)

    expect((await list()).total).toBe(3)
    expect((await purge()).json()).toEqual({ queue: 'mail', purged: 3 })
  })

  test('deletes exactly the one asked for, answers what it was and what is left; a second delete is 404', async () => {
    await deadLetter([{ id: 'd-1', body: '{}' }, { id: 'd-2', body: '{}', reason: 'SMTP refused the mail: 550' }, { id: 'd-3', body: '{}' }])
    const res = await remove('d-2')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ queue: 'mail', deleted: expect.objectContaining({ messageId: 'd-2', reason: 'SMTP refused the mail: 550' }), remaining: 2 })
    const after = await list()
    expect(after.total).toBe(2)
    expect(after.messages.map((m) => m.messageId).sort()).toEqual(['d-1', 'd-3'])

    const again = await remove('d-2')
    expect(again.statusCode).toBe(404)
    expect(again.json()).toEqual({ error: 'NO_SUCH_DEAD_LETTER', message: `no dead letter with messageId "d-2" in ${dlq()} (the first 500 looked at)` })
    expect((await show('d-2')).statusCode).toBe(404)
    expect((await list()).total).toBe(2)
    expect((await purge()).json()).toEqual({ queue: 'mail', purged: 2 })
  })

  test('a listing running while a replay searches (the console lists after each action) hides nothing from the replay', async () => {
    await deadLetter(['c-1', 'c-2', 'c-3', 'c-4'].map((id) => ({ id, body: '{}' })))
    const replay = t.app.inject({ method: 'POST', url: '/v1/admin/dlq/mail/replay', headers: admin.auth, payload: { messageIds: ['c-4'] } })
    const [replayed, ...listings] = await Promise.all([replay, list(), list(), list()])
    expect(replayed.json()).toMatchObject({ replayed: 1, messageIds: ['c-4'], notFound: [], remaining: 3 })
    // Each listing saw the queue before or after the replay, whole: none missed the messages the replay held.
    for (const listing of listings) {
      expect([3, 4]).toContain(listing.total)
      expect(listing.messages).toHaveLength(listing.total)
    }
    expect((await list()).total).toBe(3)
    expect((await purge()).json()).toEqual({ queue: 'mail', purged: 3 })
    // The replayed copy went to the work queue; nothing consumes it in this test.
    const channel = await raw.createChannel()
    await channel.purgeQueue(`${t.env.config.AMQP_PREFIX}socialnet.mail`)
    await channel.close()
  })

  test('401 without a token, 403 for a user, 404 for an unknown queue or id, 400 for an id over 255 characters', async () => {
    const user = await signUp(t.app)
    for (const call of [show, remove]) {
      expect((await call('x', {})).statusCode).toBe(401)
      expect((await call('x', user.auth)).statusCode).toBe(403)
      expect((await call('x')).json()).toMatchObject({ error: 'NO_SUCH_DEAD_LETTER' })
      expect((await call('x'.repeat(256))).statusCode).toBe(400)
    }
    const unknown = await t.app.inject({ url: '/v1/admin/dlq/orders/messages/x', headers: admin.auth })
    expect(unknown.json()).toMatchObject({ error: 'NO_SUCH_QUEUE' })
  })
})
