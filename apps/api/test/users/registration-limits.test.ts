import type { FastifyInstance } from 'fastify'
import { useTestApp } from '../helper'

const PASSWORD = 'tiger violet 42'

/** A counter's value on /metrics (0 when the series is not there yet). */
async function metric(app: FastifyInstance, series: string): Promise<number> {
  const line = (await app.inject('/metrics')).body.split('\n').find((l) => l.startsWith(`${series} `))
  return line ? Number(line.split(' ')[1]) : 0
}

/** welcome mails in the outbox, per recipient address */
async function outboxMails(app: FastifyInstance): Promise<string[]> {
  const { rows } = await app.db.query<{ to: string }>("SELECT payload->>'to' AS to FROM outbox WHERE type = 'mail.welcome.v1' ORDER BY id")
  return rows.map((r) => r.to)
}

describe('sign-ups per client IP (REGISTER_RATE_PER_IP)', () => {
  const t = useTestApp({ REGISTER_RATE_PER_IP: '3' })
  const register = (nickname: string, remoteAddress = '127.0.0.1', email = `${nickname}@example.com`) =>
    t.app.inject({ method: 'POST', url: '/v1/users', remoteAddress, payload: { email, nickname, password: PASSWORD } })

  test('refusals that cost nothing are not counted; past the budget: 429 with Retry-After, no hash, no user', async () => {
    expect((await register('ip_first')).statusCode).toBe(201)
    // A taken nickname and a weak password are refused before the budget is charged.
    expect((await register('ip_first', '127.0.0.1', 'other@example.com')).statusCode).toBe(409)
    const weak = await t.app.inject({ method: 'POST', url: '/v1/users', payload: { email: 'w@example.com', nickname: 'weakling', password: 'password123' } })
    expect(weak.statusCode).toBe(400)
    expect((await register('ip_second')).statusCode).toBe(201)
    expect((await register('ip_third')).statusCode).toBe(201)

    const hashesBefore = await metric(t.app, 'user_registration_password_hashes_total')
    const refused = await register('ip_fourth')
    expect(refused.statusCode).toBe(429)
    expect(refused.json()).toEqual({ error: 'REGISTRATION_RATE_LIMITED', message: expect.stringContaining('at most 3 an hour') })
    const retryAfter = Number(refused.headers['retry-after'])
    expect(retryAfter).toBeGreaterThan(0)
    expect(retryAfter).toBeLessThanOrEqual(3600)
    expect(await metric(t.app, 'user_registration_password_hashes_total')).toBe(hashesBefore)
    expect(await metric(t.app, 'user_registrations_rate_limited_total')).toBe(1)
    const { rows } = await t.app.db.query("SELECT count(*)::int AS n FROM users WHERE nickname = 'ip_fourth'")
    expect(rows[0].n).toBe(0)
  })

  test('another client IP has a budget of its own; the addresses of one IPv6 /64 share one', async () => {
    expect((await register('ip_elsewhere', '192.0.2.7')).statusCode).toBe(201)
    for (const [n, address] of ['2001:db8:5:6::1', '2001:db8:5:6::2', '2001:db8:5:6:a:b:c:d'].entries()) {
      expect((await register(`ip_v6_${n}`, address)).statusCode).toBe(201)
    }
    expect((await register('ip_v6_next', '2001:db8:5:6:ffff::1')).statusCode).toBe(429)
    expect((await register('ip_v6_other', '2001:db8:5:7::1')).statusCode).toBe(201)
  })
})

describe('the mail cannon: one IP, many +tags of one mailbox', () => {
  // The production defaults: 10 sign-ups per IP an hour, 1 welcome mail per mailbox a day.
  const t = useTestApp({ REGISTER_RATE_PER_IP: '10', WELCOME_MAILS_PER_MAILBOX_PER_DAY: '1', WELCOME_MAILS_PER_DOMAIN_PER_MINUTE: '60', WELCOME_MAILS_PER_MINUTE: '300' })

  test('40 concurrent sign-ups: 10 accounts, 30 refused with 429, and one mail to the mailbox', async () => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => t.app.inject({
      method: 'POST', url: '/v1/users', payload: { email: `Victim+a${i}@victim.example`, nickname: `cannon${i}`, password: PASSWORD }
    })))
    const created = results.filter((r) => r.statusCode === 201)
    expect(created).toHaveLength(10)
    expect(results.filter((r) => r.statusCode === 429)).toHaveLength(30)
    expect(created.map((r) => r.json().verificationMail).sort()).toEqual(['queued', ...Array(9).fill('withheld')])

    const mails = await outboxMails(t.app)
    expect(mails).toHaveLength(1)
    expect(mails[0]).toMatch(/^Victim\+a\d+@victim\.example$/)
    // Withheld accounts got no verification token either: the owner asks for one later.
    const { rows } = await t.app.db.query('SELECT count(*)::int AS n FROM email_verifications')
    expect(rows[0].n).toBe(1)
    expect(await metric(t.app, 'user_welcome_mails_withheld_total{reason="mailbox_daily"}')).toBe(9)
  })
})

describe('per-minute ceilings per recipient domain and in total', () => {
  const t = useTestApp({ WELCOME_MAILS_PER_DOMAIN_PER_MINUTE: '2', WELCOME_MAILS_PER_MINUTE: '3' })
  const register = (nickname: string, domain: string) =>
    t.app.inject({ method: 'POST', url: '/v1/users', payload: { email: `${nickname}@${domain}`, nickname, password: PASSWORD } })

  test('past a ceiling the account is created and its mail withheld and counted', async () => {
    const statuses = []
    for (const [nickname, domain] of [['d1_a', 'one.example'], ['d1_b', 'ONE.example'], ['d1_c', 'one.example'], ['d2_a', 'two.example'], ['d3_a', 'three.example']] as const) {
      const res = await register(nickname, domain)
      expect(res.statusCode).toBe(201)
      statuses.push(res.json().verificationMail)
    }
    // one.example takes two; the third waits. two.example makes three in all; three.example is past the total.
    expect(statuses).toEqual(['queued', 'queued', 'withheld', 'queued', 'withheld'])
    expect(await outboxMails(t.app)).toEqual(['d1_a@one.example', 'd1_b@ONE.example', 'd2_a@two.example'])
    expect(await metric(t.app, 'user_welcome_mails_withheld_total{reason="domain_minute"}')).toBe(1)
    expect(await metric(t.app, 'user_welcome_mails_withheld_total{reason="total_minute"}')).toBe(1)
  })
})
