import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { AdminError, type AdminOutput } from './commands'

const DOMAIN = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9]$/
const SELECTOR = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/

/** The DNS TXT record that publishes a DKIM key: `<selector>._domainkey.<domain> TXT "v=DKIM1; k=rsa; p=<base64 SPKI>"`. */
export function dkimTxtRecord(selector: string, domain: string, privateKeyPem: string): string {
  const spki = createPublicKey(privateKeyPem).export({ type: 'spki', format: 'der' }).toString('base64')
  return `${selector}._domainkey.${domain} TXT "v=DKIM1; k=rsa; p=${spki}"`
}

/**
 * `dkim generate [--selector s] [--domain d] [--out file]`: writes a new RSA
 * 2048 private key (mode 0600, never over an existing file) for the mailer's
 * DKIM_PRIVATE_KEY_FILE and prints the TXT record to publish on stdout.
 * Defaults come from the mailer's own DKIM_* variables, then `s<yyyymm>` for
 * the selector (a dated selector lets a new key go live beside the old one)
 * and `data/dkim/dkim-<selector>.pem` for the file. Needs no database.
 */
export function dkimCommand(argv: string[], io: AdminOutput, env: NodeJS.ProcessEnv = process.env): void {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { selector: { type: 'string' }, domain: { type: 'string' }, out: { type: 'string' } }
  })
  if (positionals.length !== 1 || positionals[0] !== 'generate') throw new AdminError('usage: dkim generate [--selector s] [--domain d] [--out file]')
  const domain = values.domain ?? env.DKIM_DOMAIN
  if (!domain || !DOMAIN.test(domain)) throw new AdminError('dkim generate needs the signing domain: --domain example.com (or DKIM_DOMAIN)')
  const now = new Date()
  const selector = values.selector ?? env.DKIM_SELECTOR ?? `s${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`
  if (!SELECTOR.test(selector)) throw new AdminError(`--selector ${JSON.stringify(selector)}: letters, digits, '.', '_', '-' (63 at most)`)
  // By default under ./data (ignored by git, like every other local state): a private key must never be one `git add -A` away.
  const out = values.out ?? env.DKIM_PRIVATE_KEY_FILE ?? join('data', 'dkim', `dkim-${selector}.pem`)
  mkdirSync(dirname(out), { recursive: true, mode: 0o700 })
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  try {
    // 'wx': a key already in use is never replaced by accident (its TXT record would stop matching).
    writeFileSync(out, pem, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AdminError(`${out} exists; dkim generate never overwrites a key (choose another --out)`)
    throw err
  }
  io.out(dkimTxtRecord(selector, domain, pem))
  io.note(`wrote a new RSA 2048 private key to ${out} (mode 0600). Publish the TXT record above, then start the mailer with ` +
    `DKIM_DOMAIN=${domain} DKIM_SELECTOR=${selector} DKIM_PRIVATE_KEY_FILE=${out}. ` +
    'A DNS host that limits TXT strings to 255 characters takes the value split into several quoted strings.')
}
