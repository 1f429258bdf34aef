import { ConfigError } from '@socialnet/config'
import { loadApiConfig } from '../src/config'

// What a bad variable makes the api say. That the process prints exactly this one
// line on stderr and exits 1 is checked once, end to end, in process/startup.test.ts.
describe('loadApiConfig', () => {
  test('defaults alone are a valid configuration', () => {
    expect(loadApiConfig({})).toMatchObject({ PORT: 3000, KV_LOG: expect.any(String), SHUTDOWN_DRAIN_MS: 3000 })
  })

  test('registration limits default to a public deployment\'s, and 0 turns them off', () => {
    expect(loadApiConfig({})).toMatchObject({
      REGISTER_RATE_PER_IP: 10,
      WELCOME_MAILS_PER_MAILBOX_PER_DAY: 1,
      WELCOME_MAILS_PER_DOMAIN_PER_MINUTE: 60,
      WELCOME_MAILS_PER_MINUTE: 300,
      VERIFICATION_RESENDS_PER_HOUR: 3,
      UNVERIFIED_ACCOUNT_DAYS: 7
    })
    expect(loadApiConfig({ REGISTER_RATE_PER_IP: '0' }).REGISTER_RATE_PER_IP).toBe(0)
  })

  test.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['KV_LOG', 'sqlite'],
    ['KV_FSYNC', 'sometimes'],
    ['DATABASE_URL', 'mysql://x'],
    ['SHUTDOWN_DRAIN_MS', '10000'],
    ['REGISTER_RATE_PER_IP', '-1'],
    ['WELCOME_MAILS_PER_MAILBOX_PER_DAY', 'one'],
    ['WELCOME_MAILS_PER_DOMAIN_PER_MINUTE', '1.5'],
    ['UNVERIFIED_ACCOUNT_DAYS', '-7'],
    ['MAX_CONNECTIONS_PER_IP', '-1'],
    ['HEADERS_TIMEOUT_MS', 'soon'],
    ['SOCKET_IDLE_TIMEOUT_MS', '10000'],
    ['EVENTS_STREAMS_PER_IP', '0'],
    ['EVENTS_STREAM_MAX_LIFETIME_MS', '10'],
    ['JOB_LOG_MAX_TOTAL_BYTES', '1']
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

  test('denial-of-service limits: defaults sized for real clients, 0 turns the per-address ones off', () => {
    const config = loadApiConfig({})
    expect(config).toMatchObject({
      HEADERS_TIMEOUT_MS: 10_000,
      REQUEST_TIMEOUT_MS: 120_000,
      KEEP_ALIVE_TIMEOUT_MS: 10_000,
      SOCKET_IDLE_TIMEOUT_MS: 120_000,
      CONNECTIONS_CHECK_MS: 1000,
      MAX_CONNECTIONS_PER_IP: 256,
      EVENTS_STREAMS_UNVERIFIED: 1,
      EVENTS_STREAM_MAX_LIFETIME_MS: 1_800_000,
      JOB_LOG_MAX_TOTAL_BYTES: 256 * 1048576
    })
    // Derived when unset: from `ulimit -n`, and a tenth of EVENTS_MAX_STREAMS.
    expect(config.MAX_CONNECTIONS).toBeUndefined()
    expect(config.EVENTS_STREAMS_PER_IP).toBeUndefined()
    expect(loadApiConfig({ MAX_CONNECTIONS_PER_IP: '0' }).MAX_CONNECTIONS_PER_IP).toBe(0)
    expect(() => loadApiConfig({ HEADERS_TIMEOUT_MS: '200000', REQUEST_TIMEOUT_MS: '100000' })).toThrow(/HEADERS_TIMEOUT_MS must not be longer than REQUEST_TIMEOUT_MS/)
  })

  test('TLS_CERT without TLS_KEY is refused', () => {
    expect(() => loadApiConfig({ TLS_CERT: '/tmp/cert.pem' })).toThrow(/TLS_CERT and TLS_KEY must be set together/)
  })
})
