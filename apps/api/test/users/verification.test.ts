import { useTestApp } from '../helper'

describe('e-mail verification and public profiles', () => {
  const t = useTestApp({}, { readMail: true })
  let userId: string
  let verifyPath: string

  beforeAll(async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/users', payload: { email: 'grace@example.com', nickname: 'grace', password: 'tiger violet 42', firstName: 'Grace' } })
    userId = res.json().id
    const { rows } = await t.app.db.query("SELECT payload->>'verificationUrl' AS url FROM outbox")
    const url = new URL(rows[0].url)
    expect(url.origin).toBe(t.env.config.PUBLIC_URL)
    // The mail links to the console's Verify page, which calls the API with the same token.
    expect(url.pathname).toBe('/verify')
    verifyPath = `/v1/users/verify${url.search}`
  })

  test('profile before verification: public fields only, no e-mail address', async () => {
    const res = await t.app.inject(`/v1/users/${userId}`)
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ id: userId, nickname: 'grace', firstName: 'Grace', lastName: null, emailVerified: false, createdAt: expect.any(String) })
  })

  test('the link from the welcome mail verifies the address; clicking again still answers 200', async () => {
    const first = await t.app.inject(verifyPath)
    expect(first.statusCode).toBe(200)
    expect(first.json()).toEqual({ id: userId, emailVerifiedAt: expect.any(String) })
    const again = await t.app.inject(verifyPath)
    expect(again.statusCode).toBe(200)
    expect(again.json().emailVerifiedAt).toBe(first.json().emailVerifiedAt)
    expect((await t.app.inject(`/v1/users/${userId}`)).json().emailVerified).toBe(true)
  })

  test.each([
    ['unknown token', '/v1/users/verify?token=nope'],
    ['empty token', '/v1/users/verify?token='],
    ['missing token', '/v1/users/verify'],
    ['over-long token', `/v1/users/verify?token=${'a'.repeat(500)}`]
  ])('%s -> 400', async (_name, url) => {
    const res = await t.app.inject(url)
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ error: expect.stringMatching(/^(INVALID_TOKEN|VALIDATION_FAILED)$/), message: expect.stringContaining('token') })
  })

  test('an expired token -> 400 and the address stays unverified', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/users', payload: { email: 'late@example.com', nickname: 'late', password: 'tiger violet 42' } })
    const { rows } = await t.app.db.query("SELECT payload->>'verificationUrl' AS url FROM outbox WHERE payload->>'nickname' = 'late'")
    await t.app.db.query("UPDATE email_verifications SET expires_at = now() - interval '1 second' WHERE user_id = $1", [res.json().id])
    const url = new URL(rows[0].url)
    const verify = await t.app.inject(`/v1/users/verify${url.search}`)
    expect(verify.statusCode).toBe(400)
    expect(verify.json().error).toBe('INVALID_TOKEN')
    expect((await t.app.inject(`/v1/users/${res.json().id}`)).json().emailVerified).toBe(false)
  })

  test('unknown id -> 404, malformed id -> 400', async () => {
    const unknown = await t.app.inject('/v1/users/00000000-0000-4000-8000-000000000000')
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json().error).toBe('USER_NOT_FOUND')
    for (const id of ['not-a-uuid', 'urn:uuid:00000000-0000-4000-8000-000000000000', '%00', "1' OR '1'='1"]) {
      const malformed = await t.app.inject(`/v1/users/${encodeURIComponent(id)}`)
      expect(malformed.statusCode).toBe(400)
      expect(malformed.json()).toMatchObject({ error: 'VALIDATION_FAILED', message: expect.stringContaining('id') })
    }
    expect((await t.app.inject(`/v1/users/${userId.toUpperCase()}`)).statusCode).toBe(200)
  })
})
