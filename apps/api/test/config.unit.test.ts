import { ConfigError } from '@socialnet/config'
import { loadApiConfig } from '../src/config'

// What a bad variable makes the api say. That the process prints exactly this one
// line on stderr and exits 1 is checked once, end to end, in process/startup.test.ts.
describe('loadApiConfig', () => {
  test('defaults alone are a valid configuration', () => {
    expect(loadApiConfig({})).toMatchObject({ PORT: 3000, KV_LOG: expect.any(String), SHUTDOWN_DRAIN_MS: 3000 })
  })

  test('EVENTS is on unless set to off; nothing else is taken', () => {
    expect(loadApiConfig({}).EVENTS).toBe('on')
    expect(loadApiConfig({ EVENTS: 'off' }).EVENTS).toBe('off')
    expect(() => loadApiConfig({ EVENTS: '0' })).toThrow(ConfigError)
    expect(() => loadApiConfig({ EVENTS: '0' })).toThrow(/EVENTS/)
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

  test('image limits default to a 10,000 px side, 1:20, 10 s, and one slot for images up to 2048 x 2048', () => {
    expect(loadApiConfig({})).toMatchObject({
      IMAGE_MAX_PIXELS: 40_000_000,
      IMAGE_MAX_SIDE: 10_000,
      IMAGE_MAX_ASPECT: 20,
      IMAGE_TIMEOUT_SECONDS: 10,
      IMAGE_SMALL_PIXELS: 4_194_304,
      IMAGE_SMALL_SLOTS: 1
    })
    expect(loadApiConfig({ IMAGE_SMALL_SLOTS: '0', IMAGE_MAX_ASPECT: '2.5' })).toMatchObject({ IMAGE_SMALL_SLOTS: 0, IMAGE_MAX_ASPECT: 2.5 })
  })

  test('login protection defaults: 10 failures in a row per account and address, 100 per address a day, a 900 s first block, an alert at 20', () => {
    expect(loadApiConfig({})).toMatchObject({
      LOGIN_MAX_CONSECUTIVE_FAILURES: 10,
      LOGIN_MAX_FAILURES_PER_IP: 100,
      LOGIN_BLOCK_SECONDS: 900,
      LOGIN_ALERT_AFTER_FAILURES: 20
    })
    expect(loadApiConfig({ LOGIN_ALERT_AFTER_FAILURES: '0' }).LOGIN_ALERT_AFTER_FAILURES).toBe(0)
  })

  test.each([
    ['IMAGE_MAX_SIDE', '0'],
    ['IMAGE_MAX_ASPECT', '0.5'],
    ['IMAGE_TIMEOUT_SECONDS', '0'],
    ['IMAGE_TIMEOUT_SECONDS', '1.5'],
    ['IMAGE_SMALL_SLOTS', '-1'],
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
    ['LOGIN_MAX_CONSECUTIVE_FAILURES', '0'],
    ['LOGIN_BLOCK_SECONDS', '86401'],
    ['LOGIN_ALERT_AFTER_FAILURES', '-1'],
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
