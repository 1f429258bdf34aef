import type { FastifyInstance } from 'fastify'
import { useTestApp } from '../helper'

const PASSWORD = 'tiger violet 42'

/** Registers and logs in; answers the user id, the 201's verificationMail and the Authorization header. */
async function signUp(app: FastifyInstance, nickname: string, email: string) {
  const created = await app.inject({ method: 'POST', url: '/v1/users', payload: { email, nickname, password: PASSWORD } })
  if (created.statusCode !== 201) throw new Error(`registration failed: ${created.statusCode} ${created.body}`)
  const login = await app.inject({ method: 'POST', url: '/v1/sessions', payload: { login: nickname, password: PASSWORD } })
  return { id: created.json().id as string, verificationMail: created.json().verificationMail as string, auth: { authorization: `Bearer ${login.json().token}` } }
}

const resend = (app: FastifyInstance, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/v1/users/me/verification', headers })

/** The verification links queued for a recipient, oldest first. */
async function links(app: FastifyInstance, to: string): Promise<string[]> {
  const { rows } = await app.db.query<{ url: string }>(
    "SELECT payload->>'verificationUrl' AS url FROM outbox WHERE type = 'mail.welcome.v1' AND payload->>'to' = $1 ORDER BY id", [to])
  return rows.map((r) => r.url)
}

describe('POST /v1/users/me/verification', () => {
  const t = useTestApp({ WELCOME_MAILS_PER_MAILBOX_PER_DAY: '2', VERIFICATION_RESENDS_PER_HOUR: '5' })

  test('401 without a session', async () => {
    const res = await resend(t.app)
    expect(res.statusCode).toBe(401)
    expect(res.json().error).toBe('UNAUTHORIZED')
  })

  test('202 queues a new mail with a new token through the outbox; its link verifies; then 409', async () => {
    const user = await signUp(t.app, 'resender', 'resender@example.com')
    const res = await resend(t.app, user.auth)
    expect(res.statusCode).toBe(202)
    expect(res.json()).toEqual({ verificationMail: 'queued' })
    const urls = await links(t.app, 'resender@example.com')
    expect(urls).toHaveLength(2)
    expect(urls[1]).not.toBe(urls[0])

    const verify = await t.app.inject(`/v1/users/verify${new URL(urls[1]!).search}`)
    expect(verify.statusCode).toBe(200)
    const again = await resend(t.app, user.auth)
    expect(again.statusCode).toBe(409)
    expect(again.json().error).toBe('EMAIL_ALREADY_VERIFIED')
    expect(await links(t.app, 'resender@example.com')).toHaveLength(2)
  })

  test('a mailbox past its daily budget: registration withholds, and the resend answers 429 with Retry-After', async () => {
    await signUp(t.app, 'box_one', 'box@example.com')
    await signUp(t.app, 'box_two', 'box+two@example.com')
    const third = await signUp(t.app, 'box_three', 'BOX+three@example.com')
    expect(third.verificationMail).toBe('withheld')
    const res = await resend(t.app, third.auth)
    expect(res.statusCode).toBe(429)
    expect(res.json()).toEqual({ error: 'VERIFICATION_MAIL_LIMITED', message: expect.stringContaining('mailbox') })
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0)
    expect(await links(t.app, 'BOX+three@example.com')).toEqual([])
  })
})

describe('POST /v1/users/me/verification: resends per account', () => {
  const t = useTestApp({ VERIFICATION_RESENDS_PER_HOUR: '2' })

  test('past VERIFICATION_RESENDS_PER_HOUR: 429 with Retry-After, nothing queued', async () => {
    const user = await signUp(t.app, 'eager', 'eager@example.com')
    expect((await resend(t.app, user.auth)).statusCode).toBe(202)
    expect((await resend(t.app, user.auth)).statusCode).toBe(202)
    const res = await resend(t.app, user.auth)
    expect(res.statusCode).toBe(429)
    expect(res.json()).toEqual({ error: 'VERIFICATION_MAIL_LIMITED', message: expect.stringContaining('per account') })
    const retryAfter = Number(res.headers['retry-after'])
    expect(retryAfter).toBeGreaterThan(0)
    expect(retryAfter).toBeLessThanOrEqual(3600)
    expect(await links(t.app, 'eager@example.com')).toHaveLength(3)
  })
})
