import { useTestApp } from '../helper'

describe('one rule for every route', () => {
  const t = useTestApp()

  test.each([
    ['DELETE', '/v1/users', 'POST'],
    ['PUT', '/v1/sessions', 'POST'],
    ['PUT', '/v1/jobs', 'GET, HEAD, POST'],
    ['POST', '/v1/key/k', 'GET, HEAD, PUT, DELETE']
  ])('%s %s (a known path, a wrong method) -> 405 with Allow', async (method, url, allow) => {
    const res = await t.app.inject({ method: method as 'GET', url })
    expect(res.statusCode).toBe(405)
    expect(res.headers.allow).toBe(allow)
    expect(res.json()).toMatchObject({ error: 'METHOD_NOT_ALLOWED' })
  })

  test('a path param route answers 405 for any value of the param', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/users/00000000-0000-0000-0000-000000000000' })
    expect(res.statusCode).toBe(405)
    expect(res.headers.allow).toBe('GET, HEAD, PATCH')
  })

  test('an unknown path is 404, whatever the method', async () => {
    for (const method of ['GET', 'POST'] as const) {
      const res = await t.app.inject({ method, url: '/v1/nothing-here' })
      expect(res.statusCode).toBe(404)
      expect(res.headers.allow).toBeUndefined()
    }
  })

  test('an unknown JSON field is 400 naming it, on users as on jobs', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/users',
      payload: { email: 'extra-field@example.com', nickname: 'extrafield', password: 'correct horse battery staple', admin: true }
    })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ error: 'VALIDATION_FAILED', details: [{ field: 'body.admin', message: 'is not a known field' }] })
    expect(res.json().message).toContain('body.admin')
  })

  test('a validation error lists every bad field, and the allowed values of a choice', async () => {
    const users = await t.app.inject({ method: 'POST', url: '/v1/users', payload: { email: 'not-an-email', nickname: 'x', password: 'correct horse battery staple' } })
    expect(users.statusCode).toBe(400)
    expect(users.json().details.map((d: { field: string }) => d.field).sort()).toEqual(['body.email', 'body.nickname'])

    const image = await t.app.inject('/v1/images/00000000-0000-0000-0000-000000000000?size=huge')
    expect(image.statusCode).toBe(400)
    expect(image.json()).toMatchObject({
      error: 'VALIDATION_FAILED',
      message: 'querystring.size must be one of original|thumb|128|512',
      details: [{ field: 'querystring.size', message: 'must be one of original|thumb|128|512' }]
    })
  })
})
