import { useTestApp } from '../helper'

describe('POST /v1/users', () => {
  const t = useTestApp({ PUBLIC_URL: 'https://social.example/' }, { readMail: true })

  const register = (payload: unknown) => t.app.inject({ method: 'POST', url: '/v1/users', payload: payload as object })
  const count = async (table: 'users' | 'outbox' | 'email_verifications') =>
    Number((await t.app.db.query(`SELECT count(*) FROM ${table}`)).rows[0].count)

  test('201 with the public fields, argon2id hash stored, welcome mail queued in the outbox', async () => {
    const res = await register({ email: 'Ada@Example.com', nickname: 'Ada_L', password: 'correct horse', firstName: 'Ada', lastName: 'Lovelace' })
    expect(res.statusCode).toBe(201)
    const body = res.json()
    expect(body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), nickname: 'Ada_L', email: 'Ada@Example.com', createdAt: expect.any(String), verificationMail: 'queued' })
    expect(res.headers.location).toBe(`/v1/users/${body.id}`)

    const { rows: [user] } = await t.app.db.query('SELECT password_hash, email_verified_at FROM users WHERE id = $1', [body.id])
    expect(user.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/)
    expect(user.email_verified_at).toBeNull()

    const { rows } = await t.app.db.query('SELECT type, routing_key, payload, message_id FROM outbox')
    expect(rows).toHaveLength(1)
    expect(rows[0].type).toBe('mail.welcome.v1')
    expect(rows[0].payload).toEqual({
      to: 'Ada@Example.com',
      nickname: 'Ada_L',
      verificationUrl: expect.stringMatching(/^https:\/\/social\.example\/verify\?token=[\w-]{43}$/)
    })
  })

  test('taken e-mail or nickname in another case -> 409, and nothing else is stored', async () => {
    const before = await Promise.all([count('users'), count('outbox'), count('email_verifications')])
    const email = await register({ email: 'ADA@example.COM', nickname: 'someone_else', password: 'tiger violet 42' })
    expect(email.statusCode).toBe(409)
    expect(email.json()).toEqual({ error: 'EMAIL_TAKEN', message: expect.stringContaining('email') })
    const nickname = await register({ email: 'other@example.com', nickname: 'ada_l', password: 'tiger violet 42' })
    expect(nickname.statusCode).toBe(409)
    expect(nickname.json()).toEqual({ error: 'NICKNAME_TAKEN', message: expect.stringContaining('nickname') })
    expect(await Promise.all([count('users'), count('outbox'), count('email_verifications')])).toEqual(before)
  })

  test('concurrent registrations of one nickname: exactly one wins, the rest get 409', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      register({ email: `racer${i}@example.com`, nickname: i % 2 ? 'Racer' : 'RACER', password: 'tiger violet 42' })))
    const statuses = results.map((r) => r.statusCode).sort()
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409])
    const { rows } = await t.app.db.query("SELECT count(*) FROM outbox WHERE payload->>'nickname' ILIKE 'racer'")
    expect(Number(rows[0].count)).toBe(1)
  })

  /** The api's count of argon2 hashes made for registrations, from /metrics. */
  const hashesSoFar = async () => {
    const metrics = (await t.app.inject('/metrics')).body
    const line = metrics.split('\n').find((l) => l.startsWith('user_registration_password_hashes_total '))
    if (!line) throw new Error('no user_registration_password_hashes_total in /metrics')
    return Number(line.split(' ')[1])
  }

  test('a duplicate registration is refused before the password is hashed (no argon2 cost)', async () => {
    expect((await register({ email: 'dup@example.com', nickname: 'dup_user', password: 'tiger violet 42' })).statusCode).toBe(201)
    const before = await hashesSoFar()
    const duplicates = await Promise.all([
      register({ email: 'DUP@example.com', nickname: 'fresh_one', password: 'tiger violet 42' }),
      register({ email: 'fresh@example.com', nickname: 'DUP_USER', password: 'tiger violet 42' }),
      register({ email: 'fresh2@example.com', nickname: 'dup_usel', password: 'tiger violet 42' }).then(() => register({ email: 'fresh3@example.com', nickname: 'dup_use1', password: 'tiger violet 42' }))
    ])
    expect(duplicates.map((r) => r.statusCode)).toEqual([409, 409, 409])
    // Only dup_usel was new (one hash); the two plain duplicates and its look-alike dup_use1 cost none.
    expect(await hashesSoFar()).toBe(before + 1)
  })

  test.each([
    ['eight spaces', ' '.repeat(8), 'whitespace'],
    ['tabs and newlines', '\t\t\n\n\t\t\r\n', 'whitespace'],
    ['ideographic spaces', '\u3000'.repeat(8), 'whitespace'],
    ['a common password', 'password123', 'common'],
    ['a common password in another case', 'QwertyUIOP', 'common'],
    ['a common digits-only password', '12345678', 'common']
  ])('%s as password -> 400 WEAK_PASSWORD naming the rule, nothing stored', async (_name, password, rule) => {
    const before = await hashesSoFar()
    const res = await register({ email: 'weak@example.com', nickname: 'weak_pw', password })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({ error: 'WEAK_PASSWORD', message: expect.stringMatching(new RegExp(`^password: .*${rule}`)) })
    expect(await hashesSoFar()).toBe(before)
    expect((await t.app.db.query("SELECT 1 FROM users WHERE nickname = 'weak_pw'")).rows).toHaveLength(0)
  })

  test('look-alike nicknames (I for l, 1 for l, 0 for O, rn for m) -> 409 NICKNAME_TOO_SIMILAR; non-ASCII letters -> 400', async () => {
    expect((await register({ email: 'alice@example.com', nickname: 'alice', password: 'tiger violet 42' })).statusCode).toBe(201)
    expect((await register({ email: 'mike@example.com', nickname: 'mike_b0b', password: 'tiger violet 42' })).statusCode).toBe(201)
    for (const nickname of ['aIice', 'a1ice', 'AIice', 'rnike_bob', 'Mike_bob', 'rnike_B0b']) {
      const res = await register({ email: `${nickname.toLowerCase()}.x@example.com`, nickname, password: 'tiger violet 42' })
      expect({ nickname, status: res.statusCode, error: res.json().error }).toEqual({ nickname, status: 409, error: expect.stringMatching(/^NICKNAME_(TOO_SIMILAR|TAKEN)$/) })
    }
    expect((await register({ email: 'al.x@example.com', nickname: 'aIice', password: 'tiger violet 42' })).json())
      .toEqual({ error: 'NICKNAME_TOO_SIMILAR', message: expect.stringContaining('nickname: looks like') })
    // Cyrillic а (U+0430): nicknames are ASCII only, so it never gets as far as the skeleton.
    const cyrillic = await register({ email: 'cyr@example.com', nickname: '\u0430lice', password: 'tiger violet 42' })
    expect(cyrillic.statusCode).toBe(400)
    expect(cyrillic.json().message).toContain('nickname')
    // Different enough: still fine.
    expect((await register({ email: 'alicia@example.com', nickname: 'alicia', password: 'tiger violet 42' })).statusCode).toBe(201)
  })

  test('concurrent look-alike registrations: the unique skeleton index lets exactly one win', async () => {
    const results = await Promise.all(['look1', 'lookl', 'lookI', 'LOOKl', 'look|'.replace('|', 'L')].map((nickname, i) =>
      register({ email: `look${i}@example.com`, nickname, password: 'tiger violet 42' })))
    const statuses = results.map((r) => r.statusCode).sort()
    expect(statuses.filter((s) => s === 201)).toHaveLength(1)
    expect(statuses.filter((s) => s === 409)).toHaveLength(4)
  })

  test('renaming to a look-alike of another nickname -> 409; to a look-alike of one\'s own is fine', async () => {
    await register({ email: 'rena@example.com', nickname: 'rena_0', password: 'tiger violet 42' })
    const login = await t.app.inject({ method: 'POST', url: '/v1/sessions', payload: { login: 'rena_0', password: 'tiger violet 42' } })
    const { token, userId } = login.json()
    const rename = (nickname: string) => t.app.inject({ method: 'PATCH', url: `/v1/users/${userId}`, headers: { authorization: `Bearer ${token}` }, payload: { nickname } })
    expect((await rename('aIice')).statusCode).toBe(409)
    expect((await rename('rena_O')).statusCode).toBe(200)
  })

  test('nicknames stored before the skeleton column get one at start, and then guard like new ones', async () => {
    await t.app.db.query("INSERT INTO users (email, nickname, password_hash) VALUES ('old@example.com', 'oldtimer', 'x')")
    const app = await t.restart()
    const { rows } = await app.db.query("SELECT nickname_skeleton FROM users WHERE nickname = 'oldtimer'")
    expect(rows[0].nickname_skeleton).toBe('oldtirner')
    const res = await app.inject({ method: 'POST', url: '/v1/users', payload: { email: 'o2@example.com', nickname: '01dtimer', password: 'tiger violet 42' } })
    expect(res.statusCode).toBe(409)
  })

  test.each([
    ['missing email', { nickname: 'bob', password: 'tiger violet 42' }, 'email'],
    ['bad email', { email: 'not-an-email', nickname: 'bob', password: 'tiger violet 42' }, 'email'],
    ['email without a dot in the domain', { email: 'bob@localhost', nickname: 'bob', password: 'tiger violet 42' }, 'email'],
    ['email with an IP-literal domain', { email: 'x@127.0.0.1', nickname: 'bob', password: 'tiger violet 42' }, 'email'],
    ['email with a bracketed IP-literal domain', { email: 'x@[127.0.0.1]', nickname: 'bob', password: 'tiger violet 42' }, 'email'],
    ['email with a % route in the local part', { email: 'a%evil.com@example.com', nickname: 'bob', password: 'tiger violet 42' }, 'email'],
    ['email with a display name', { email: 'Bob <bob@example.com>', nickname: 'bob', password: 'tiger violet 42' }, 'email'],
    ['email of the wrong type', { email: { address: 'a@b.c' }, nickname: 'bob', password: 'tiger violet 42' }, 'email'],
    ['too short nickname', { email: 'bob@example.com', nickname: 'bo', password: 'tiger violet 42' }, 'nickname'],
    ['nickname with spaces', { email: 'bob@example.com', nickname: 'bob smith', password: 'tiger violet 42' }, 'nickname'],
    ['short password', { email: 'bob@example.com', nickname: 'bob', password: 'short' }, 'password'],
    ['129-character password', { email: 'bob@example.com', nickname: 'bob', password: 'x'.repeat(129) }, 'password'],
    ['control characters in a name', { email: 'bob@example.com', nickname: 'bob', password: 'tiger violet 42', firstName: 'Bo\u0000b' }, 'firstName']
  ])('%s -> 400 naming the field', async (_name, payload, field) => {
    const res = await register(payload)
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ error: 'VALIDATION_FAILED', message: expect.stringContaining(field) })
  })

  test('bodies that are not a JSON object -> 400, never 500', async () => {
    const broken = await t.app.inject({ method: 'POST', url: '/v1/users', headers: { 'content-type': 'application/json' }, payload: '{"email": ' })
    expect(broken.statusCode).toBe(400)
    const array = await t.app.inject({ method: 'POST', url: '/v1/users', headers: { 'content-type': 'application/json' }, payload: '[]' })
    expect(array.statusCode).toBe(400)
    for (const payload of ['null', '"ada"', '42', '{"__proto__":{"admin":true},"email":"p@example.com","nickname":"proto","password":"tiger violet 42"}']) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/users', headers: { 'content-type': 'application/json' }, payload })
      expect({ payload, status: res.statusCode }).toEqual({ payload, status: 400 })
    }
    const text = await t.app.inject({ method: 'POST', url: '/v1/users', headers: { 'content-type': 'text/plain' }, payload: 'hello' })
    expect(text.statusCode).toBe(400)
    expect(text.json().error).toBe('VALIDATION_FAILED')
  })

  test('a 200 KB password is refused with 413 before it is parsed or hashed', async () => {
    const res = await register({ email: 'big@example.com', nickname: 'big', password: 'p'.repeat(200 * 1024) })
    expect(res.statusCode).toBe(413)
    expect(res.json()).toEqual({ error: 'PAYLOAD_TOO_LARGE', message: expect.any(String) })
    const { rows } = await t.app.db.query("SELECT 1 FROM users WHERE nickname = 'big'")
    expect(rows).toHaveLength(0)
  })
})
