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
    expect(body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), nickname: 'Ada_L', email: 'Ada@Example.com', createdAt: expect.any(String) })
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
      verificationUrl: expect.stringMatching(/^https:\/\/social\.example\/v1\/users\/verify\?token=[\w-]{43}$/)
    })
  })

  test('taken e-mail or nickname in another case -> 409, and nothing else is stored', async () => {
    const before = await Promise.all([count('users'), count('outbox'), count('email_verifications')])
    const email = await register({ email: 'ADA@example.COM', nickname: 'someone_else', password: 'password123' })
    expect(email.statusCode).toBe(409)
    expect(email.json()).toEqual({ error: 'EMAIL_TAKEN', message: expect.stringContaining('email') })
    const nickname = await register({ email: 'other@example.com', nickname: 'ada_l', password: 'password123' })
    expect(nickname.statusCode).toBe(409)
    expect(nickname.json()).toEqual({ error: 'NICKNAME_TAKEN', message: expect.stringContaining('nickname') })
    expect(await Promise.all([count('users'), count('outbox'), count('email_verifications')])).toEqual(before)
  })

  test('concurrent registrations of one nickname: exactly one wins, the rest get 409', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      register({ email: `racer${i}@example.com`, nickname: i % 2 ? 'Racer' : 'RACER', password: 'password123' })))
    const statuses = results.map((r) => r.statusCode).sort()
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409])
    const { rows } = await t.app.db.query("SELECT count(*) FROM outbox WHERE payload->>'nickname' ILIKE 'racer'")
    expect(Number(rows[0].count)).toBe(1)
  })

  test.each([
    ['missing email', { nickname: 'bob', password: 'password123' }, 'email'],
    ['bad email', { email: 'not-an-email', nickname: 'bob', password: 'password123' }, 'email'],
    ['email without a dot in the domain', { email: 'bob@localhost', nickname: 'bob', password: 'password123' }, 'email'],
    ['email with a display name', { email: 'Bob <bob@example.com>', nickname: 'bob', password: 'password123' }, 'email'],
    ['email of the wrong type', { email: { address: 'a@b.c' }, nickname: 'bob', password: 'password123' }, 'email'],
    ['too short nickname', { email: 'bob@example.com', nickname: 'bo', password: 'password123' }, 'nickname'],
    ['nickname with spaces', { email: 'bob@example.com', nickname: 'bob smith', password: 'password123' }, 'nickname'],
    ['short password', { email: 'bob@example.com', nickname: 'bob', password: 'short' }, 'password'],
    ['129-character password', { email: 'bob@example.com', nickname: 'bob', password: 'x'.repeat(129) }, 'password'],
    ['control characters in a name', { email: 'bob@example.com', nickname: 'bob', password: 'password123', firstName: 'Bo\u0000b' }, 'firstName']
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
    for (const payload of ['null', '"ada"', '42', '{"__proto__":{"admin":true},"email":"p@example.com","nickname":"proto","password":"password123"}']) {
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
