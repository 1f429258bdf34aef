import { execFile } from 'node:child_process'
import { createPublicKey, createSign, createVerify } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const CLI_JS = join(__dirname, '..', '..', 'dist', 'admin', 'cli.js')

interface CliResult { code: number; stdout: string; stderr: string }

/** Runs the built CLI as an operator does; no DATABASE_URL: dkim needs none. */
function admin(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_JS, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30000, cwd }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr })
    })
  })
}

describe('admin CLI: dkim generate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'admin-dkim-'))
  beforeAll(() => {
    if (!existsSync(CLI_JS)) throw new Error(`${CLI_JS} is missing: run npm run build first`)
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('without --out the key goes to data/dkim/ (ignored by git, like all local state), never the folder it was run in', async () => {
    const res = await admin(['dkim', 'generate', '--domain', 'socialnet.example', '--selector', 'home1'], {}, dir)
    expect(res.code).toBe(0)
    expect(res.stderr).toContain('DKIM_PRIVATE_KEY_FILE=data/dkim/dkim-home1.pem')
    expect(statSync(join(dir, 'data', 'dkim', 'dkim-home1.pem')).mode & 0o777).toBe(0o600)
    expect(existsSync(join(dir, 'dkim-home1.pem'))).toBe(false)
  })

  test('writes a private RSA 2048 key readable by its owner only, and prints the TXT record of its public half', async () => {
    const out = join(dir, 'dkim.pem')
    const res = await admin(['dkim', 'generate', '--domain', 'socialnet.example', '--selector', 'mail2026', '--out', out])
    expect(res.code).toBe(0)
    expect(res.stdout).toMatch(/^mail2026\._domainkey\.socialnet\.example TXT "v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*"\n$/)
    expect(res.stderr).toContain(`DKIM_PRIVATE_KEY_FILE=${out}`)
    expect(statSync(out).mode & 0o777).toBe(0o600)
    const pem = readFileSync(out, 'utf8')
    const published = createPublicKey({ key: Buffer.from(/p=([^"]+)"/.exec(res.stdout)![1]!, 'base64'), format: 'der', type: 'spki' })
    expect(published.asymmetricKeyDetails?.modulusLength).toBe(2048)
    // What the key signs, the published record verifies.
    const signature = createSign('sha256').update('a mail').sign(pem)
    expect(createVerify('sha256').update('a mail').verify(published, signature)).toBe(true)

    const again = await admin(['dkim', 'generate', '--domain', 'socialnet.example', '--out', out])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/^admin: .*exists; dkim generate never overwrites a key/)
    expect(readFileSync(out, 'utf8')).toBe(pem)
  })

  test('takes the mailer\'s DKIM_* variables as defaults, and a dated selector', async () => {
    const out = join(dir, 'from-env.pem')
    const res = await admin(['dkim', 'generate'], { DKIM_DOMAIN: 'mail.socialnet.example', DKIM_PRIVATE_KEY_FILE: out })
    expect(res.code).toBe(0)
    expect(res.stdout).toMatch(/^s\d{6}\._domainkey\.mail\.socialnet\.example TXT "v=DKIM1; k=rsa; p=/)
    expect(existsSync(out)).toBe(true)
  })

  test.each([
    [['dkim', 'generate'], /needs the signing domain/],
    [['dkim', 'generate', '--domain', 'not a domain'], /needs the signing domain/],
    [['dkim', 'generate', '--domain', 'socialnet.example', '--selector', 'a b'], /--selector/],
    [['dkim', 'rotate'], /usage: dkim generate/],
    [['dkim', 'generate', '--bits', '1024'], /Unknown option '--bits'/]
  ])('%j: one line, exit 1', async (args, message) => {
    const res = await admin(args as string[], {})
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(message)
    expect(res.stderr.trim().split('\n')).toHaveLength(1)
  })
})
