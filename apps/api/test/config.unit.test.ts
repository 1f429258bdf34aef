import { ConfigError } from '@socialnet/config'
import { loadApiConfig } from '../src/config'

// What a bad variable makes the api say. That the process prints exactly this one
// line on stderr and exits 1 is checked once, end to end, in process/startup.test.ts.
describe('loadApiConfig', () => {
  test('defaults alone are a valid configuration', () => {
    expect(loadApiConfig({})).toMatchObject({ PORT: 3000, KV_LOG: expect.any(String), SHUTDOWN_DRAIN_MS: 3000 })
  })

  test.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['KV_LOG', 'sqlite'],
    ['KV_FSYNC', 'sometimes'],
    ['DATABASE_URL', 'mysql://x'],
    ['SHUTDOWN_DRAIN_MS', '10000']
  ])('bad %s=%s -> one line naming the variable', (name, value) => {
    let error: unknown
    try {
      loadApiConfig({ [name]: value })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).toMatch(new RegExp(`^invalid environment: .*${name}`))
    expect((error as Error).message).not.toContain('\n')
  })

  test('TLS_CERT without TLS_KEY is refused', () => {
    expect(() => loadApiConfig({ TLS_CERT: '/tmp/cert.pem' })).toThrow(/TLS_CERT and TLS_KEY must be set together/)
  })
})
