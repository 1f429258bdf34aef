import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildApp, testEnv, type TestEnv } from '../helper'
import { insertUser } from '../../src/users/repository'

const CLI_JS = join(__dirname, '..', '..', 'dist', 'admin', 'cli.js')

interface CliResult { code: number; stdout: string; stderr: string }

/** Runs the built CLI the way an operator (or the Docker image) does. */
function admin(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_JS, ...args], { env: { ...process.env, ...env }, timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr })
    })
  })
}

describe('admin CLI (dist/admin/cli.js) against a fresh database', () => {
  let env: TestEnv
  let db: { DATABASE_URL: string }
  let app: FastifyInstance | undefined
  beforeAll(() => {
    if (!existsSync(CLI_JS)) throw new Error(`${CLI_JS} is missing: run npm run build first`)
    // No cache: the revocation below must show on the next request.
    env = testEnv({ API_KEY_CACHE_MS: '0' })
    db = { DATABASE_URL: env.env.DATABASE_URL! }
  })
  afterAll(async () => {
    await app?.close()
    await env.cleanup()
  })

  test('api-key list on a database that does not exist yet: created and migrated, no keys', async () => {
    const res = await admin(['api-key', 'list'], db)
    expect(res).toEqual({ code: 0, stdout: '', stderr: expect.stringContaining('no API keys yet') })
  })

  test('api-key create prints the key alone on stdout; list never shows it; the api accepts it until revoke', async () => {
    const created = await admin(['api-key', 'create', '--scope', 'kv:write', '--name', 'bench runner'], db)
    expect(created.code).toBe(0)
    expect(created.stdout).toMatch(/^snk_[A-Za-z0-9_-]{43}\n$/)
    expect(created.stderr).toContain('shown only this once')
    const key = created.stdout.trim()

    const list = await admin(['api-key', 'list'], db)
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(/^id +name +key +scopes +created +last used +revoked\n1 +bench runner +snk_\S{6}… +kv:write /)
    expect(list.stdout).not.toContain(key.slice(10))

    app = await buildApp(env.config)
    const auth = { authorization: `Bearer ${key}` }
    expect((await app.inject({ method: 'PUT', url: '/v1/key/cli', payload: 'v', headers: auth })).statusCode).toBe(201)

    const revoked = await admin(['api-key', 'revoke', '1'], db)
    expect(revoked).toEqual({ code: 0, stdout: '', stderr: expect.stringContaining('api key 1 "bench runner" revoked') })
    expect((await app.inject({ url: '/v1/key/cli', headers: auth })).statusCode).toBe(401)
    expect((await admin(['api-key', 'list'], db)).stdout).toMatch(/\n1 .* \d{4}-\d\d-\d\dT\S+Z\n$/)
    expect((await admin(['api-key', 'revoke', '1'], db)).stderr).toContain('already revoked')
  })

  test('promote <email> makes a registered user an admin; an unknown e-mail is a clear error', async () => {
    app ??= await buildApp(env.config)
    await insertUser(app.db, { email: 'Ada@example.com', nickname: 'ada', passwordHash: 'not-a-real-hash' })
    const res = await admin(['promote', 'ada@EXAMPLE.com'], db)
    expect(res).toEqual({ code: 0, stdout: '', stderr: 'Ada@example.com is now an admin\n' })
    const { rows } = await app.db.query("SELECT role FROM users WHERE nickname = 'ada'")
    expect(rows[0].role).toBe('admin')
    expect((await admin(['promote', 'ada@example.com'], db)).stderr).toBe('Ada@example.com was already an admin\n')
    expect(await admin(['promote', 'nobody@example.com'], db)).toEqual({
      code: 1, stdout: '', stderr: 'admin: no user with the e-mail address nobody@example.com; register first (POST /v1/users)\n'
    })
  })

  test.each([
    [['api-key', 'create'], /^admin: api-key create needs at least one --scope/],
    [['api-key', 'create', '--scope', 'kv:admin'], /^admin: unknown scope kv:admin; allowed: kv:read, kv:write\n$/],
    [['api-key', 'create', '--scope'], /^admin: Option '--scope <value>' argument missing/],
    [['api-key', 'revoke', 'abc'], /^admin: api-key revoke needs the numeric id/],
    [['api-key', 'revoke', '999'], /^admin: no API key with id 999/],
    [['frobnicate'], /^admin: unknown command: frobnicate\nusage:/]
  ])('%j -> exit 1 with a clear message', async (args, message) => {
    const res = await admin(args, db)
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(message)
  })

  test('a bad or unreachable DATABASE_URL -> one line naming it, without the password, exit 1', async () => {
    const bad = await admin(['api-key', 'list'], { DATABASE_URL: 'mysql://x' })
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/^admin: invalid environment: .*DATABASE_URL[^\n]*\n$/)
    const unreachable = await admin(['api-key', 'list'], { DATABASE_URL: 'postgres://ops:s3cret@127.0.0.1:1/socialnet' })
    expect(unreachable.code).toBe(1)
    expect(unreachable.stderr).toMatch(/^admin: cannot use the Postgres database at DATABASE_URL=postgres:\/\/ops:\*\*\*@127\.0\.0\.1:1\/socialnet: [^\n]+\n$/)
  })

  test('--help prints the usage and exits 0', async () => {
    const res = await admin(['--help'], db)
    expect(res.code).toBe(0)
    expect(res.stdout).toContain('api-key create --scope kv:write')
  })
})
