import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError } from '@socialnet/config'
import { loadMailerConfig } from '../src/config'

describe('mailer environment', () => {
  it('applies the defaults and parses the retry delays once', () => {
    const config = loadMailerConfig({})
    expect(config.retryDelaysMs).toEqual([1000, 5000, 30000, 120000, 600000])
    expect(config.PUBLIC_URL).toBe('http://localhost:3000')
    expect(config.MAIL_LOG_RETENTION_DAYS).toBe(30)
    // Unset: mail goes out with the plain sender, unsigned.
    expect(config.verp).toBeUndefined()
    expect(config.dkim).toBeUndefined()
    expect(config.EVENTS).toBe('on')
    expect(loadMailerConfig({ EVENTS: 'off' }).EVENTS).toBe('off')
  })

  it.each([
    ['PUBLIC_URL', 'http://'],
    ['SMTP_URL', 'smtp://mail host'],
    ['AMQP_RETRY_DELAYS_MS', '5000,1000'],
    ['MAIL_PREFETCH', '0'],
    ['BOUNCE_DOMAIN', 'not a domain'],
    ['BOUNCE_LOCAL', 'bounces@x'],
    ['BOUNCE_SECRET', 'too-short'],
    ['DKIM_SELECTOR', 'bad selector'],
    ['MAIL_LOG_RETENTION_DAYS', '0'],
    ['EVENTS', 'no']
  ])('refuses %s=%j with one line naming it', (name, value) => {
    const load = (): unknown => loadMailerConfig({ [name]: value })
    expect(load).toThrow(ConfigError)
    expect(load).toThrow(new RegExp(`^invalid environment: [^\\n]*${name}[^\\n]*$`))
  })

  describe('VERP', () => {
    it('builds the return path settings from BOUNCE_* (BOUNCE_LOCAL defaults to bounces)', () => {
      const config = loadMailerConfig({ BOUNCE_DOMAIN: 'bounces.example.com', BOUNCE_SECRET: 's'.repeat(16) })
      expect(config.verp).toEqual({ local: 'bounces', domain: 'bounces.example.com', secret: 's'.repeat(16) })
    })

    it('refuses BOUNCE_DOMAIN without BOUNCE_SECRET', () => {
      expect(() => loadMailerConfig({ BOUNCE_DOMAIN: 'bounces.example.com' })).toThrow(/^invalid environment: BOUNCE_SECRET .*required when BOUNCE_DOMAIN is set$/)
    })
  })

  describe('DKIM', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailer-config-'))
    const rsaFile = join(dir, 'rsa.pem')
    const ecFile = join(dir, 'ec.pem')
    const junkFile = join(dir, 'junk.pem')
    writeFileSync(rsaFile, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
    writeFileSync(ecFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
    writeFileSync(junkFile, 'not a key\n')
    afterAll(() => rmSync(dir, { recursive: true, force: true }))
    const env = (file: string) => ({ DKIM_DOMAIN: 'socialnet.example', DKIM_SELECTOR: 's2026', DKIM_PRIVATE_KEY_FILE: file })

    it('reads the key file once, at load', () => {
      const config = loadMailerConfig(env(rsaFile))
      expect(config.dkim).toMatchObject({ domainName: 'socialnet.example', keySelector: 's2026', privateKey: expect.stringContaining('PRIVATE KEY') })
    })

    it.each([
      ['only some of the three', { DKIM_DOMAIN: 'socialnet.example' }, /all three or none/],
      ['a missing file', env(join(dir, 'missing.pem')), /DKIM_PRIVATE_KEY_FILE .*missing\.pem cannot be read \(ENOENT\)/],
      ['a file without a key', env(junkFile), /DKIM_PRIVATE_KEY_FILE .* holds no PEM private key/],
      ['a key DKIM cannot use here', env(ecFile), /DKIM_PRIVATE_KEY_FILE .* holds no RSA key of 1024 bits or more/]
    ])('refuses %s with one clear line', (_, vars, message) => {
      const load = (): unknown => loadMailerConfig(vars)
      expect(load).toThrow(ConfigError)
      expect(load).toThrow(message)
    })
  })
})
