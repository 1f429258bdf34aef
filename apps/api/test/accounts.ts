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

/** Marks the account's address verified (what the link in the welcome mail does). */
export async function verifyEmail(app: FastifyInstance, account: TestAccount): Promise<TestAccount> {
  await app.db.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [account.id])
  return account
}

/** A registered user whose address is verified, signed in: what keeping data (log jobs) and several event streams need. */
export async function signUpVerified(app: FastifyInstance, name?: string): Promise<TestAccount> {
  return verifyEmail(app, await signUp(app, name))
}
