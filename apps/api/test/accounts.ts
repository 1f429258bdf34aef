import type { FastifyInstance } from 'fastify'
import { randomBytes } from 'node:crypto'

/** A registered user with a live session, for tests that need someone signed in. */
export interface TestAccount {
  id: string
  email: string
  nickname: string
  password: string
  token: string
  /** `{ authorization: 'Bearer ...' }` */
  auth: { authorization: string }
}

/** Registers a fresh user through the api and logs them in. */
export async function signUp(app: FastifyInstance, name = `u${randomBytes(4).toString('hex')}`): Promise<TestAccount> {
  const email = `${name}@example.com`
  const password = 'correct horse battery'
  const created = await app.inject({ method: 'POST', url: '/v1/users', payload: { email, nickname: name, password } })
  if (created.statusCode !== 201) throw new Error(`registration failed: ${created.statusCode} ${created.body}`)
  const login = await app.inject({ method: 'POST', url: '/v1/sessions', payload: { login: name, password } })
  if (login.statusCode !== 201) throw new Error(`login failed: ${login.statusCode} ${login.body}`)
  const { token } = login.json() as { token: string }
  return { id: created.json().id, email, nickname: name, password, token, auth: { authorization: `Bearer ${token}` } }
}
