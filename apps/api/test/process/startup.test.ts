import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { testEnv, type TestEnv } from '../helper'
import { runApiToExit } from './spawn-api'

// The built api (`node dist/server.js`) refusing to start: one line on stderr, exit 1.
describe('api process: start-up failures', () => {
  let env: TestEnv
  beforeAll(() => { env = testEnv() })
  afterAll(async () => { await env.cleanup() })

  test('a bad variable -> one clear line on stderr naming it, exit 1, before the app even loads', async () => {
    const { code, output } = await runApiToExit({ ...env.env, PORT: 'eighty' })
    expect(code).toBe(1)
    // Every variable's message is in config.unit.test.ts; here, that the process says only this.
    expect(output.trim().split('\n')).toEqual([expect.stringMatching(/^api: invalid environment: .*PORT/)])
  })

  test.each([
    ['no server on that port', 'postgres://postgres@127.0.0.1:1/socialnet'],
    ['unknown role, with a password', 'postgres://nobody_here:s3cret-pw@127.0.0.1:5432/socialnet'],
    ['unknown host', 'postgres://postgres@no-such-host.invalid:5432/socialnet']
  ])('DATABASE_URL with %s -> one line naming Postgres and the variable, no password, exit 1', async (_case, url) => {
    const { code, output } = await runApiToExit({ ...env.env, DATABASE_URL: url })
    expect(code).toBe(1)
    const lines = output.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^api: failed to start: cannot connect to Postgres at \S+ \(check DATABASE_URL\): /)
    expect(output).not.toContain('s3cret-pw')
  })

  test('a corrupt KV log stops start-up with a clear message', async () => {
    const path = join(env.dir, 'corrupt.log')
    writeFileSync(path, 'SNKVLOG1' + 'garbage that is not a record at all')
    const { code, output } = await runApiToExit({ ...env.env, KV_LOG_PATH: path })
    expect(code).toBe(1)
    expect(output).toMatch(/corrupt at byte 8 .*refusing to start/)
  })
})
