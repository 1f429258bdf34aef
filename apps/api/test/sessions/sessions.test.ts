import { loadApiConfig } from '../../src/config'
import { buildApp, useTestApp } from '../helper'
import { signUp, type TestAccount } from '../accounts'

/** A distinct client address per test, so per-IP counters of one test do not leak into another. */
let lastOctet = 10
const nextIp = () => `192.0.2.${lastOctet++}`

describe('sessions', () => {
  const t = useTestApp({ LOGIN_MAX_CONSECUTIVE_FAILURES: '3', LOGIN_MAX_FAILURES_PER_IP: '6', LOGIN_ALERT_AFTER_FAILURES: '8' }, { readMail: true })
  let ada: TestAccount

  beforeAll(async () => {
    ada = await signUp(t.app, 'ada_l')
  })

  const login = (payload: object, remoteAddress = nextIp()) =>
    t.app.inject({ method: 'POST', url: '/v1/sessions', payload, remoteAddress })
  const me = (authorization?: string) =>
    t.app.inject({ method: 'GET', url: '/v1/users/me', headers: authorization ? { authorization } : {} })

  test('login by nickname or e-mail (any case) -> 201 with an opaque token and its expiry', async () => {
    for (const name of ['ada_l', 'ADA_L', 'Ada_L@Example.com']) {
      const res = await login({ login: name, password: ada.password })
      expect(res.statusCode).toBe(201)
      const body = res.json()
      expect(body).toEqual({ token: expect.stringMatching(/^[\w-]{43}$/), expiresAt: expect.any(String), userId: ada.id })
      expect(new Date(body.expiresAt).getTime()).toBeGreaterThan(Date.now())
      expect(res.headers['cache-control']).toBe('no-store')
    }
  })

  test('only a hash of the token is stored in Redis, with a TTL', async () => {
    const keys = await t.app.redis.keys(`${t.env.config.SESSIONS_REDIS_PREFIX}session:*`)
    expect(keys.length).toBeGreaterThan(0)
    for (const key of keys) {
      expect(key).not.toContain(ada.token)
      expect(await t.app.redis.get(key)).not.toContain(ada.token)
      expect(await t.app.redis.ttl(key)).toBeGreaterThan(0)
    }
  })

  test('every bad login gets the same 401: unknown account, wrong password, wrong case of password', async () => {
    const bodies = await Promise.all([
      login({ login: 'nobody_here', password: ada.password }),
      login({ login: 'ada_l', password: 'wrong password' }),
      login({ login: 'ada_l', password: ada.password.toUpperCase() })
    ])
    for (const res of bodies) {
      expect(res.statusCode).toBe(401)
      expect(res.json()).toEqual({ error: 'UNAUTHORIZED', message: 'wrong login or password' })
    }
  })

  test('malformed login bodies -> 400', async () => {
    for (const payload of [{}, { login: 'ada_l' }, { login: '', password: 'x' }, { login: 'ada_l', password: 'x'.repeat(129) }, { login: 'ada_l\u0000', password: 'x' }]) {
      const res = await login(payload)
      expect(res.statusCode).toBe(400)
    }
  })

  test('GET /v1/users/me: 401 without or with a bad token, the own profile with e-mail otherwise', async () => {
    const none = await me()
    expect(none.statusCode).toBe(401)
    expect(none.headers['www-authenticate']).toContain('Bearer')
    expect((await me('Bearer not-a-token')).statusCode).toBe(401)
    expect((await me(`Bearer ${'A'.repeat(43)}`)).statusCode).toBe(401)
    expect((await me(`Basic ${ada.token}`)).statusCode).toBe(401)
    const res = await me(ada.auth.authorization)
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ id: ada.id, nickname: 'ada_l', email: ada.email })
  })

  test('PATCH /v1/users/{id}: 401 without a token, 403 for someone else, 200 for the owner, 409 for a taken nickname', async () => {
    const bob = await signUp(t.app, 'bob_b')
    const patch = (id: string, payload: object, headers: Record<string, string> = {}) =>
      t.app.inject({ method: 'PATCH', url: `/v1/users/${id}`, payload, headers })

    expect((await patch(ada.id, { firstName: 'Mallory' })).statusCode).toBe(401)
    const forbidden = await patch(ada.id, { firstName: 'Mallory' }, bob.auth)
    expect(forbidden.statusCode).toBe(403)
    expect(forbidden.json().error).toBe('FORBIDDEN')
    const ok = await patch(ada.id, { firstName: 'Ada', lastName: 'Lovelace' }, ada.auth)
    expect(ok.statusCode).toBe(200)
    expect(ok.json()).toMatchObject({ id: ada.id, firstName: 'Ada', lastName: 'Lovelace', email: ada.email })
    const cleared = await patch(ada.id, { lastName: null }, ada.auth)
    expect(cleared.json()).toMatchObject({ firstName: 'Ada', lastName: null })
    const taken = await patch(ada.id, { nickname: 'BOB_B' }, ada.auth)
    expect(taken.statusCode).toBe(409)
    expect((await patch(ada.id, {}, ada.auth)).statusCode).toBe(400)
    expect((await patch(ada.id, { email: 'x@example.com' }, ada.auth)).statusCode).toBe(400)
  })

  test('logout -> 204, and the token stops working at once', async () => {
    const res = await login({ login: 'ada_l', password: ada.password })
    const authorization = `Bearer ${res.json().token}`
    expect((await me(authorization)).statusCode).toBe(200)
    const out = await t.app.inject({ method: 'DELETE', url: '/v1/sessions/current', headers: { authorization } })
    expect(out.statusCode).toBe(204)
    expect((await me(authorization)).statusCode).toBe(401)
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/sessions/current', headers: { authorization } })).statusCode).toBe(401)
    // other sessions of the same user live on
    expect((await me(ada.auth.authorization)).statusCode).toBe(200)
  })

  test('a token stops working once its TTL has passed', async () => {
    // A second replica on the same database and Redis, with one-second sessions.
    const shortLived = await buildApp(loadApiConfig({ ...t.env.env, SESSION_TTL_SECONDS: '1' }))
    try {
      const res = await shortLived.inject({ method: 'POST', url: '/v1/sessions', payload: { login: 'ada_l', password: ada.password } })
      const authorization = `Bearer ${res.json().token}`
      expect((await me(authorization)).statusCode).toBe(200)
      const expiresAt = new Date(res.json().expiresAt).getTime()
      await new Promise((resolve) => setTimeout(resolve, expiresAt - Date.now() + 300))
      expect((await me(authorization)).statusCode).toBe(401)
    } finally {
      await shortLived.close()
    }
  })

  test('consecutive failures of one login from one address -> 429 with Retry-After there, even with the right password', async () => {
    await signUp(t.app, 'carol_c')
    const ip = nextIp()
    for (let i = 0; i < 3; i++) expect((await login({ login: 'carol_c', password: 'wrong password' }, ip)).statusCode).toBe(401)
    const limited = await login({ login: 'CAROL_C', password: 'correct horse battery' }, ip)
    expect(limited.statusCode).toBe(429)
    expect(limited.json()).toEqual({ error: 'LOGIN_RATE_LIMITED', message: expect.stringMatching(/^too many login attempts; retry in \d+ seconds$/) })
    const retryAfter = Number(limited.headers['retry-after'])
    expect(retryAfter).toBeGreaterThan(0)
    expect(retryAfter).toBeLessThanOrEqual(t.env.config.LOGIN_BLOCK_SECONDS)
    // an unknown account is limited the same way, so 429 tells nothing about existence
    for (let i = 0; i < 3; i++) await login({ login: 'ghost_g', password: 'x' }, ip)
    expect((await login({ login: 'ghost_g', password: 'x' }, ip)).statusCode).toBe(429)
  })

  test('a stranger\'s 50 wrong passwords from several addresses do not keep the owner out of their account', async () => {
    const hana = await signUp(t.app, 'hana_h')
    const strangers = Array.from({ length: 5 }, nextIp)
    for (let i = 0; i < 50; i++) {
      const res = await login({ login: i % 2 ? 'hana_h' : hana.email, password: `guess ${i}` }, strangers[i % strangers.length])
      expect([401, 429]).toContain(res.statusCode)
    }
    // the strangers' addresses are blocked for this account ...
    expect((await login({ login: 'hana_h', password: hana.password }, strangers[0])).statusCode).toBe(429)
    // ... the owner, from their own address, logs in at the first try
    const own = await login({ login: 'hana_h', password: hana.password }, nextIp())
    expect(own.statusCode).toBe(201)
  })

  test('a verified owner gets one mail (through the outbox) when their account sees LOGIN_ALERT_AFTER_FAILURES wrong passwords in a day', async () => {
    const kim = await signUp(t.app, 'kim_k')
    const lee = await signUp(t.app, 'lee_l')
    await t.app.db.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [kim.id])
    const alerts = async (userId: string) => (await t.app.db.query(
      "SELECT payload FROM outbox WHERE type = 'mail.send.v1' AND user_id = $1", [userId])).rows.map((r) => r.payload)
    for (let i = 0; i < 7; i++) expect((await login({ login: 'kim_k', password: `guess ${i}` }, `198.51.100.${i}`)).statusCode).toBe(401)
    expect(await alerts(kim.id)).toEqual([])
    for (let i = 7; i < 20; i++) {
      expect((await login({ login: 'kim_k', password: `guess ${i}` }, `198.51.100.${i}`)).statusCode).toBe(401)
      // an unverified address is never mailed: it may not be the account holder's
      expect((await login({ login: 'lee_l', password: `guess ${i}` }, `198.51.100.${i}`)).statusCode).toBe(401)
    }
    const sent = await alerts(kim.id)
    expect(sent).toEqual([{ to: kim.email, subject: 'Failed log-ins to your account', text: expect.stringContaining('8 times in the last 24 hours') }])
    expect(await alerts(lee.id)).toEqual([])
    // it reaches the mail queue like any outbox mail
    while (!t.mail.messages.some((m) => m.type === 'mail.send.v1' && m.payload.to === kim.email)) await new Promise((resolve) => setTimeout(resolve, 20))
    // and the owner, from their own address, logs in at once
    expect((await login({ login: 'kim_k', password: kim.password })).statusCode).toBe(201)
  })

  test('failures of one account from one address count together, whichever spelling (nickname, e-mail, other case) each one used', async () => {
    const erin = await signUp(t.app, 'erin_e')
    const ip = nextIp()
    expect((await login({ login: 'erin_e', password: 'wrong password' }, ip)).statusCode).toBe(401)
    expect((await login({ login: 'ERIN_E', password: 'wrong password' }, ip)).statusCode).toBe(401)
    expect((await login({ login: erin.email, password: 'wrong password' }, ip)).statusCode).toBe(401)
    for (const spelling of ['erin_e', erin.email.toUpperCase()]) {
      const res = await login({ login: spelling, password: erin.password }, ip)
      expect({ spelling, status: res.statusCode }).toEqual({ spelling, status: 429 })
    }
  })

  test('a locked pair stays locked under a spelling that Postgres and JavaScript fold differently', async () => {
    // Postgres lower('İ') (U+0130) is 'i', JavaScript's is 'i' + U+0307: one fold, used by both
    // the lookup and the counter, means this spelling can neither dodge the lock nor log in.
    const frank = await signUp(t.app, 'frank_i')
    const ip = nextIp()
    for (let i = 0; i < 3; i++) expect((await login({ login: 'frank_i', password: 'wrong password' }, ip)).statusCode).toBe(401)
    const other = await login({ login: 'FRANK_\u0130', password: frank.password }, ip)
    expect(other.statusCode).toBe(401)
    expect(other.json().token).toBeUndefined()
    expect((await login({ login: 'frank_i', password: frank.password }, ip)).statusCode).toBe(429)
  })

  test('each new block of the same pair within a day lasts twice as long as the one before', async () => {
    // A second replica on the same database and Redis, with one-second first blocks.
    const quick = await buildApp(loadApiConfig({ ...t.env.env, LOGIN_BLOCK_SECONDS: '1', LOGIN_MAX_FAILURES_PER_IP: '100' }))
    try {
      await signUp(t.app, 'ivan_v')
      const ip = nextIp()
      const attempt = (password: string) => quick.inject({ method: 'POST', url: '/v1/sessions', payload: { login: 'ivan_v', password }, remoteAddress: ip })
      const retryAfters: number[] = []
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < 3; i++) expect((await attempt('wrong password')).statusCode).toBe(401)
        const blocked = await attempt('wrong password')
        expect(blocked.statusCode).toBe(429)
        retryAfters.push(Number(blocked.headers['retry-after']))
        await new Promise((resolve) => setTimeout(resolve, Number(blocked.headers['retry-after']) * 1000 + 300))
      }
      expect(retryAfters).toEqual([1, 2])
    } finally {
      await quick.close()
    }
  })

  test('a login that folds to no account does not find one through the database\'s own fold', async () => {
    const gina = await signUp(t.app, 'gina_i')
    expect((await login({ login: 'GINA_\u0130', password: gina.password })).statusCode).toBe(401)
    expect((await login({ login: 'GINA_I', password: gina.password })).statusCode).toBe(201)
  })

  test('failed logins per client IP -> 429 across different accounts; a success does not count', async () => {
    const ip = nextIp()
    expect((await login({ login: 'ada_l', password: ada.password }, ip)).statusCode).toBe(201)
    for (let i = 0; i < 6; i++) {
      expect((await login({ login: `spray_${i}`, password: 'guess' }, ip)).statusCode).toBe(401)
    }
    const limited = await login({ login: 'ada_l', password: ada.password }, ip)
    expect(limited.statusCode).toBe(429)
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0)
    // another address is not affected
    expect((await login({ login: 'ada_l', password: ada.password }, nextIp())).statusCode).toBe(201)
  })

  test('a successful login resets the pair\'s consecutive failures', async () => {
    const dave = await signUp(t.app, 'dave_d')
    const ip = nextIp()
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2; i++) expect((await login({ login: 'dave_d', password: 'nope nope' }, ip)).statusCode).toBe(401)
      expect((await login({ login: 'dave_d', password: dave.password }, ip)).statusCode).toBe(201)
    }
  })
})
