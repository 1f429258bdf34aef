import { ConfigError } from '@socialnet/config'
import { loadBouncesConfig } from '../src/config'

const base = { BOUNCE_DOMAIN: 'bounces.example.com', BOUNCE_SECRET: 'a-secret-of-16-chars-or-more' }

test('defaults: local part "bounces", SMTP on 2525, events on, no ops port', () => {
  expect(loadBouncesConfig(base)).toMatchObject({ BOUNCE_LOCAL: 'bounces', BOUNCE_SMTP_PORT: 2525, EVENTS: 'on', OPS_PORT: 0 })
})

test.each([
  ['no BOUNCE_SECRET', { BOUNCE_DOMAIN: 'bounces.example.com' }, /BOUNCE_SECRET/],
  ['a short BOUNCE_SECRET', { ...base, BOUNCE_SECRET: 'short' }, /BOUNCE_SECRET/],
  ['no BOUNCE_DOMAIN', { BOUNCE_SECRET: base.BOUNCE_SECRET }, /BOUNCE_DOMAIN/],
  ['a BOUNCE_DOMAIN with an @', { ...base, BOUNCE_DOMAIN: 'a@b.example' }, /BOUNCE_DOMAIN/],
  ['a BOUNCE_LOCAL with a +', { ...base, BOUNCE_LOCAL: 'a+b' }, /BOUNCE_LOCAL/],
  ['a port out of range', { ...base, BOUNCE_SMTP_PORT: '70000' }, /BOUNCE_SMTP_PORT/],
  ['EVENTS neither on nor off', { ...base, EVENTS: 'maybe' }, /EVENTS/]
])('%s is refused with one clear line', (_, env, pattern) => {
  expect(() => loadBouncesConfig(env)).toThrow(ConfigError)
  expect(() => loadBouncesConfig(env)).toThrow(pattern)
})
