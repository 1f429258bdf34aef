import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Pool } from 'pg'
import { SuppressionList } from '@socialnet/sender'
import { testEnv, type TestEnv } from '../helper'
import { pgBounds } from '@socialnet/testing'

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

describe('admin CLI: suppression list|add|remove (dist/admin/cli.js) against a fresh database', () => {
  let env: TestEnv
  let db: { DATABASE_URL: string }
  let pool: Pool | undefined
  const list = () => new SuppressionList(pool!)

  beforeAll(() => {
    if (!existsSync(CLI_JS)) throw new Error(`${CLI_JS} is missing: run npm run build first`)
    env = testEnv()
    db = { DATABASE_URL: env.env.DATABASE_URL! }
  })
  afterAll(async () => {
    await pool?.end()
    await env.cleanup()
  })

  test('list on a database that does not exist yet: created and migrated, nothing suppressed', async () => {
    expect(await admin(['suppression', 'list'], db)).toEqual({ code: 0, stdout: '', stderr: 'the suppression list is empty\n' })
    pool = new Pool({ connectionString: db.DATABASE_URL, max: 2, ...pgBounds() })
  })

  test('add suppresses an address (lower-cased, reason manual, source cli, the note kept); twice is once; list shows it with the others', async () => {
    const added = await admin(['suppression', 'add', 'Ada@Example.com', '--note', 'asked us by phone'], db)
    expect(added).toEqual({ code: 0, stdout: '', stderr: expect.stringMatching(/^address suppressed by hand: ada@example\.com by cli:\S+@\S+\n$/) })
    expect(await list().get('ada@example.com')).toMatchObject({ reason: 'manual', source: 'cli', detail: 'asked us by phone', count: 1 })

    const again = await admin(['suppression', 'add', 'ada@example.com'], db)
    expect(again).toEqual({ code: 0, stdout: '', stderr: expect.stringMatching(/^ada@example\.com was already suppressed \(manual, since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)\n$/) })
    expect((await list().get('ada@example.com'))!.count).toBe(1)

    await list().recordBounce({ address: 'bob@example.com', kind: 'hard', source: 'dsn', detail: '5.1.1 user unknown' })
    const listed = await admin(['suppression', 'list'], db)
    expect(listed.code).toBe(0)
    expect(listed.stdout.split('\n')).toEqual([
      expect.stringMatching(/^address +reason +source +first seen +last seen +count +detail$/),
      expect.stringMatching(/^ada@example\.com +manual +cli +\S+Z +\S+Z +1 +asked us by phone$/),
      expect.stringMatching(/^bob@example\.com +hard_bounce +dsn +\S+Z +\S+Z +1 +5\.1\.1 user unknown$/),
      ''
    ])
  })

  test('remove lifts a suppression; an address not listed is a clear error, exit 1', async () => {
    const removed = await admin(['suppression', 'remove', 'ADA@example.com'], db)
    expect(removed).toEqual({ code: 0, stdout: '', stderr: expect.stringMatching(/^suppression lifted: ada@example\.com \(manual\) by cli:\S+\n$/) })
    expect(await list().get('ada@example.com')).toBeUndefined()
    expect(await admin(['suppression', 'remove', 'ada@example.com'], db)).toEqual({
      code: 1, stdout: '', stderr: 'admin: ada@example.com is not on the suppression list\n'
    })
  })

  test.each([
    [['suppression', 'add', 'not-an-address'], /^admin: not an e-mail address: "not-an-address"\n$/],
    [['suppression', 'add'], /^admin: suppression add needs an address: suppression add <address>\n$/],
    [['suppression', 'remove', 'a@example.com', 'b@example.com'], /^admin: unknown command: suppression remove a@example.com b@example.com\n {2}suppression list/],
    [['suppression', 'list', '--note', 'x'], /^admin: unknown command: suppression list --note x\n/],
    [['suppression', 'frobnicate'], /^admin: unknown command: suppression frobnicate\n/],
    [['suppression', 'add', 'a@example.com', '--scope', 'kv:read'], /^admin: Unknown option '--scope'/]
  ])('%j -> exit 1 with a clear message, nothing changed', async (args, message) => {
    const res = await admin(args, db)
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(message)
    expect(await list().get('a@example.com')).toBeUndefined()
  })

  test('--help lists the suppression commands', async () => {
    const res = await admin(['--help'], db)
    expect(res.code).toBe(0)
    expect(res.stdout).toContain('suppression add <address> [--note <text>]')
  })
})
