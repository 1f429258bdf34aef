import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { MalformedMessageError, MESSAGE_TYPES, validateMessage } from '../src'
import { writeSchemas } from '../src/write-schemas'

const welcome = { to: 'ada@example.com', nickname: 'ada', verificationUrl: 'https://social.example/verify?token=abc' }

describe('contracts', () => {
  it('returns a valid payload unchanged', () => {
    expect(validateMessage('mail.welcome.v1', welcome)).toEqual(welcome)
    expect(validateMessage('mail.send.v1', { to: 'a@example.com', subject: 'Hi', text: 'x' })).toEqual({ to: 'a@example.com', subject: 'Hi', text: 'x' })
  })

  it.each([
    ['an unknown type', 'mail.nope.v1', welcome, /unknown message type/],
    ['a missing field', 'mail.welcome.v1', { to: welcome.to, nickname: 'ada' }, /verificationUrl/],
    ['an extra field', 'mail.welcome.v1', { ...welcome, admin: true }, /admin|additional/i],
    ['an address smuggling a header', 'mail.welcome.v1', { ...welcome, to: 'a@example.com\r\nBcc: b@example.com' }, /\/to/],
    ['an IP-literal domain', 'mail.welcome.v1', { ...welcome, to: 'x@127.0.0.1' }, /\/to/],
    ['a bracketed IP-literal domain', 'mail.send.v1', { to: 'x@[127.0.0.1]', subject: 'Hi', text: 'x' }, /\/to/],
    ['a short IP-literal domain', 'mail.send.v1', { to: 'x@127.1', subject: 'Hi', text: 'x' }, /\/to/],
    ['a % route in the local part', 'mail.welcome.v1', { ...welcome, to: 'a%evil.com@example.com' }, /\/to/],
    ['a non-http link', 'mail.welcome.v1', { ...welcome, verificationUrl: 'javascript:alert(1)' }, /verificationUrl/],
    ['a two-line subject', 'mail.send.v1', { to: 'a@example.com', subject: 'Hi\nBcc: b@example.com', text: 'x' }, /subject/],
    ['not an object', 'mail.send.v1', 'hello', /payload/]
  ])('refuses %s with a reason naming it', (_what, type, payload, reason) => {
    expect(() => validateMessage(type, payload)).toThrow(MalformedMessageError)
    expect(() => validateMessage(type, payload)).toThrow(reason)
  })

  it('accepts ordinary addresses whose domain has digits in it', () => {
    for (const to of ['a.b+tag@sub.example.co.uk', 'x@1e100.net', 'x@123.example', 'o\'brien@example.com']) {
      expect(validateMessage('mail.send.v1', { to, subject: 'Hi', text: 'x' })).toMatchObject({ to })
    }
  })

  it('has a committed JSON Schema file per message type, in sync with the TypeBox source', () => {
    const dir = mkdtempSync(join(tmpdir(), 'contracts-'))
    try {
      const written = writeSchemas(dir).map((file) => basename(file))
      expect(written.sort()).toEqual(MESSAGE_TYPES.map((t) => `${t}.json`).sort())
      const committed = join(__dirname, '..', 'schemas')
      for (const file of written) {
        expect(JSON.parse(readFileSync(join(committed, file), 'utf8'))).toEqual(JSON.parse(readFileSync(join(dir, file), 'utf8')))
      }
      expect(readdirSync(committed).filter((f) => f.endsWith('.json')).sort()).toEqual(written.sort())
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
