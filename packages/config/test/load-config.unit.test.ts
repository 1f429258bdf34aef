import { Type } from '@sinclair/typebox'
import { ConfigError, loadConfig } from '../src'

const Schema = Type.Object({
  PUBLIC_URL: Type.String({ format: 'uri', pattern: '^https?://', default: 'http://localhost:3000' }),
  PREFETCH: Type.Integer({ minimum: 1, default: 10 })
})

describe('loadConfig', () => {
  it('applies defaults and coerces numbers', () => {
    expect(loadConfig(Schema, {})).toEqual({ PUBLIC_URL: 'http://localhost:3000', PREFETCH: 10 })
    expect(loadConfig(Schema, { PREFETCH: '3' }).PREFETCH).toBe(3)
  })

  it.each(['http://', 'http://a b', 'https://[::1'])('refuses the unparseable URL %j in one line', (value) => {
    expect(() => loadConfig(Schema, { PUBLIC_URL: value })).toThrow(ConfigError)
    expect(() => loadConfig(Schema, { PUBLIC_URL: value })).toThrow(/^invalid environment: .*PUBLIC_URL[^\n]*$/)
  })

  it('names a bad number in one line', () => {
    expect(() => loadConfig(Schema, { PREFETCH: 'lots' })).toThrow(/^invalid environment: .*PREFETCH[^\n]*$/)
  })
})
