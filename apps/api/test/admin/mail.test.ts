import { randomUUID } from 'node:crypto'
import { DeliveryAttempts, SuppressionList, type DeliveryAttempt } from '@socialnet/sender'
import { useTestApp } from '../helper'
import { signUp, type TestAccount } from '../accounts'
import { promoteToAdmin } from '../../src/users/repository'

interface Attempt { messageId: string; at: string; outcome: string; smtpCode: number | null; smtpReply: string | null; replica: string; durationMs: number | null }

describe('the delivery log and the suppression list: /v1/admin/mail, /v1/admin/suppressions', () => {
  const t = useTestApp()
  let admin: TestAccount
  let user: TestAccount
  let attempts: DeliveryAttempts
  let suppressions: SuppressionList

  beforeAll(async () => {
    admin = await signUp(t.app)
    await promoteToAdmin(t.app.db, admin.email)
    user = await signUp(t.app)
    attempts = new DeliveryAttempts(t.app.db)
    suppressions = new SuppressionList(t.app.db)
  })

  const get = (url: string, who: TestAccount | null = admin) => t.app.inject({ url, headers: who?.auth })
  // One at a time: the log orders by insertion, which is the order a mailer writes them in.
  const record = async (rows: DeliveryAttempt[]) => { for (const row of rows) await attempts.record([row]) }

  test('401 without a token and 403 for a user, on every route', async () => {
    const routes = [
      ['GET', '/v1/admin/mail?to=a@example.com'], ['GET', '/v1/admin/mail/some-id'], ['GET', '/v1/admin/suppressions'],
      ['PUT', '/v1/admin/suppressions/a@example.com'], ['DELETE', '/v1/admin/suppressions/a@example.com']
    ] as const
    for (const [method, url] of routes) {
      const anonymous = await t.app.inject({ method, url })
      expect([url, anonymous.statusCode, anonymous.json().error]).toEqual([url, 401, 'UNAUTHORIZED'])
      const refused = await t.app.inject({ method, url, headers: user.auth })
      expect([url, refused.statusCode, refused.json().error]).toEqual([url, 403, 'FORBIDDEN'])
    }
    expect(await suppressions.get('a@example.com')).toBeUndefined()
  })

  test('a message\'s whole history, oldest first, with the recipient and its suppression; 404 when nothing is logged', async () => {
    const messageId = randomUUID()
    await record([
      { messageId, recipient: 'Grace@Example.com', outcome: 'throttled', replica: 'mailer-1', smtpReply: 'example.com out of tokens' },
      { messageId, recipient: 'grace@example.com', outcome: 'deferred', replica: 'mailer-2', smtpCode: 421, smtpReply: '4.7.0 try again later', durationMs: 120.4 },
      { messageId, recipient: 'grace@example.com', outcome: 'sent', replica: 'mailer-1', smtpCode: 250, smtpReply: '2.0.0 OK queued', durationMs: 41 }
    ])
    const res = await get(`/v1/admin/mail/${messageId}`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['cache-control']).toBe('no-store')
    const body = res.json() as { messageId: string; recipient: string; suppression: unknown; attempts: Attempt[] }
    expect(body).toEqual({
      messageId,
      recipient: 'grace@example.com',
      suppression: null,
      attempts: [
        { messageId, at: expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/), outcome: 'throttled', smtpCode: null, smtpReply: 'example.com out of tokens', replica: 'mailer-1', durationMs: null },
        { messageId, at: expect.any(String), outcome: 'deferred', smtpCode: 421, smtpReply: '4.7.0 try again later', replica: 'mailer-2', durationMs: 120 },
        { messageId, at: expect.any(String), outcome: 'sent', smtpCode: 250, smtpReply: '2.0.0 OK queued', replica: 'mailer-1', durationMs: 41 }
      ]
    })

    const missing = await get('/v1/admin/mail/no-such-message')
    expect(missing.statusCode).toBe(404)
    expect(missing.json()).toEqual({ error: 'NO_SUCH_MAIL', message: expect.stringContaining('"no-such-message"') })
  })

  test('?to= answers the address\'s attempts newest first, page by page, and says why its mail does not go out', async () => {
    const to = 'linus@example.org'
    const first = randomUUID()
    const second = randomUUID()
    await record([
      { messageId: first, recipient: to, outcome: 'sent', replica: 'mailer-1', smtpCode: 250, smtpReply: 'OK', durationMs: 30 },
      { messageId: randomUUID(), recipient: 'someone-else@example.org', outcome: 'sent', replica: 'mailer-1', smtpCode: 250 },
      { messageId: second, recipient: to, outcome: 'bounced', replica: 'mailer-2', smtpCode: 550, smtpReply: '5.1.1 user unknown', durationMs: 12 },
      { messageId: second, recipient: to, outcome: 'suppressed', replica: 'mailer-1', smtpReply: 'suppressed (hard_bounce)' }
    ])
    await suppressions.recordBounce({ address: to, kind: 'hard', source: 'smtp', messageId: second, detail: '550 5.1.1 user unknown' })

    const res = await get(`/v1/admin/mail?to=${encodeURIComponent(' Linus@EXAMPLE.org')}`)
    expect(res.statusCode).toBe(200)
    const body = res.json() as { address: string; suppression: Record<string, unknown>; attempts: Attempt[]; nextCursor: string | null }
    expect(body.address).toBe(to)
    expect(body.attempts.map((a) => [a.messageId, a.outcome])).toEqual([[second, 'suppressed'], [second, 'bounced'], [first, 'sent']])
    expect(body.nextCursor).toBeNull()
    expect(body.suppression).toEqual({
      address: to,
      reason: 'hard_bounce',
      source: 'smtp',
      detail: '550 5.1.1 user unknown',
      firstSeenAt: expect.any(String),
      lastSeenAt: expect.any(String),
      count: 1
    })

    // Pages of 2: the cursor leads to the rest and nothing is seen twice.
    const page1 = (await get(`/v1/admin/mail?to=${to}&limit=2`)).json() as typeof body
    expect(page1.attempts.map((a) => a.outcome)).toEqual(['suppressed', 'bounced'])
    expect(page1.nextCursor).toMatch(/^\d+$/)
    const page2 = (await get(`/v1/admin/mail?to=${to}&limit=2&cursor=${page1.nextCursor}`)).json() as typeof body
    expect(page2.attempts.map((a) => a.outcome)).toEqual(['sent'])
    expect(page2.nextCursor).toBeNull()

    // An address never mailed: an empty log, not a 404.
    expect((await get('/v1/admin/mail?to=nobody@example.org')).json()).toEqual({ address: 'nobody@example.org', suppression: null, attempts: [], nextCursor: null })
  })

  test.each([
    ['no address', '/v1/admin/mail', 'VALIDATION_FAILED'],
    ['not an address', '/v1/admin/mail?to=not-an-address', 'INVALID_ADDRESS'],
    ['a header in the address', `/v1/admin/mail?to=${encodeURIComponent('a@example.com\r\nBcc: b@example.com')}`, 'INVALID_ADDRESS'],
    ['a limit over 100', '/v1/admin/mail?to=a@example.com&limit=101', 'VALIDATION_FAILED'],
    ['a cursor that is not one', '/v1/admin/mail?to=a@example.com&cursor=abc', 'VALIDATION_FAILED'],
    ['a limit over 100', '/v1/admin/suppressions?limit=101', 'VALIDATION_FAILED']
  ])('400 for %s: %s', async (_, url, code) => {
    const res = await get(url)
    expect(res.statusCode).toBe(400)
    expect(res.json().error).toBe(code)
  })

  test('PUT suppresses an address by hand (201, then 200 unchanged); GET lists it; DELETE lifts it (204, then 404)', async () => {
    const path = '/v1/admin/suppressions/Ada.Lovelace@Example.COM'
    const added = await t.app.inject({ method: 'PUT', url: path, headers: admin.auth, payload: { note: 'asked us by phone' } })
    expect(added.statusCode).toBe(201)
    const entry = added.json()
    expect(entry).toEqual({
      address: 'ada.lovelace@example.com',
      reason: 'manual',
      source: 'admin',
      detail: 'asked us by phone',
      firstSeenAt: expect.any(String),
      lastSeenAt: expect.any(String),
      count: 1
    })
    // Asking twice is asking once; no body is fine.
    const again = await t.app.inject({ method: 'PUT', url: path, headers: admin.auth })
    expect([again.statusCode, again.json()]).toEqual([200, entry])
    // The mailer's view: the address is suppressed, by hand.
    expect(await suppressions.reasonsFor(['ADA.LOVELACE@example.com'])).toEqual(new Map([['ada.lovelace@example.com', 'manual']]))

    const noNote = await t.app.inject({ method: 'PUT', url: '/v1/admin/suppressions/bob%40example.com', headers: admin.auth })
    expect([noNote.statusCode, noNote.json().detail]).toEqual([201, null])

    const list = (await get('/v1/admin/suppressions')).json() as { suppressions: Array<{ address: string }>; nextCursor: string | null }
    expect(list.suppressions.map((s) => s.address)).toEqual(expect.arrayContaining(['ada.lovelace@example.com', 'bob@example.com']))

    const lifted = await t.app.inject({ method: 'DELETE', url: path, headers: admin.auth })
    expect([lifted.statusCode, lifted.body]).toEqual([204, ''])
    expect(await suppressions.get('ada.lovelace@example.com')).toBeUndefined()
    const gone = await t.app.inject({ method: 'DELETE', url: path, headers: admin.auth })
    expect([gone.statusCode, gone.json()]).toEqual([404, { error: 'NOT_SUPPRESSED', message: 'ada.lovelace@example.com is not on the suppression list' }])
    await suppressions.remove('bob@example.com')
  })

  test('the suppression list pages in address order', async () => {
    const addresses = ['p1@list.test', 'p2@list.test', 'p3@list.test']
    for (const a of [...addresses].reverse()) await suppressions.add(a, 'cli')
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const page = (await get(`/v1/admin/suppressions?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)).json() as { suppressions: Array<{ address: string }>; nextCursor: string | null }
      expect(page.suppressions.length).toBeLessThanOrEqual(2)
      seen.push(...page.suppressions.map((s) => s.address))
      cursor = page.nextCursor
    } while (cursor)
    expect(seen.filter((a) => a.endsWith('@list.test'))).toEqual(addresses)
    expect(seen).toEqual([...seen].sort())
  })

  test('a change to an address that is not one, or a body with an unknown field, is a 400 that changes nothing', async () => {
    for (const method of ['PUT', 'DELETE'] as const) {
      const res = await t.app.inject({ method, url: '/v1/admin/suppressions/not-an-address', headers: admin.auth })
      expect([res.statusCode, res.json().error]).toEqual([400, 'INVALID_ADDRESS'])
    }
    const extra = await t.app.inject({ method: 'PUT', url: '/v1/admin/suppressions/eve@example.com', headers: admin.auth, payload: { note: 'x', reason: 'hard_bounce' } })
    expect([extra.statusCode, extra.json().error]).toEqual([400, 'VALIDATION_FAILED'])
    expect(await suppressions.get('eve@example.com')).toBeUndefined()
  })

  test('the routes are in the OpenAPI document under the admin tag', async () => {
    const doc = (await t.app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, { tags: string[] }>> }
    expect(doc.paths['/v1/admin/mail']!.get!.tags).toEqual(['admin'])
    expect(doc.paths['/v1/admin/mail/{messageId}']!.get!.tags).toEqual(['admin'])
    expect(doc.paths['/v1/admin/suppressions']!.get!.tags).toEqual(['admin'])
    expect(Object.keys(doc.paths['/v1/admin/suppressions/{address}']!).sort()).toEqual(['delete', 'put'])
  })
})
