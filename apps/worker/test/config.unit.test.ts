import { ConfigError } from '@socialnet/config'
import { loadWorkerConfig } from '../src/config'

describe('worker environment', () => {
  it('applies the defaults and parses the retry delays once', () => {
    const config = loadWorkerConfig({ AMQP_RETRY_DELAYS_MS: '100,1000' })
    expect(config.retryDelaysMs).toEqual([100, 1000])
    expect(config.LOG_LEVEL).toBe('info')
    expect(config.JOB_LOG_RETENTION_DAYS).toBe(30)
    expect(config.JOB_LOG_MAX_TOTAL_BYTES).toBe(256 * 1048576)
    expect(config.JOB_LOG_TOTAL_REFRESH_MS).toBe(5000)
    expect(config.EVENTS).toBe('on')
    expect(loadWorkerConfig({ EVENTS: 'off' }).EVENTS).toBe('off')
  })

  it('takes comma-separated whsec_ secrets (rotation) and refuses a bad one among them, naming its position', () => {
    const a = 'whsec_bmV3LXNlY3JldC1mb3Itcm90YXRpb24tMDAwMDAwMDA='
    const b = 'whsec_d29ya2VyLXRlc3Qtc2VjcmV0LTAxMjM0NTY3ODk='
    expect(loadWorkerConfig({ CALLBACK_SECRET: ` ${a} , ${b} ` }).callbackSecrets).toEqual([a, b])
    expect(() => loadWorkerConfig({ CALLBACK_SECRET: `${a},whsec_c2hvcnQ=` })).toThrow(/^invalid environment: CALLBACK_SECRET \(secret 2 of 2\) must hold 24 to 64 random bytes \(it holds 5\)$/)
  })

  it.each([
    ['REDIS_URL', 'redis://a b'],
    ['DATABASE_URL', 'postgres://[::1'],
    ['AMQP_RETRY_DELAYS_MS', '5000,1000'],
    ['LOG_LEVEL', 'loud'],
    ['EVENTS', 'false'],
    ['JOB_LOG_RETENTION_DAYS', '0'],
    ['JOB_LOG_RETENTION_DAYS', 'a month'],
    ['JOB_LOG_MAX_TOTAL_BYTES', '100'],
    ['NODE_ENV', 'production'],
    ['CALLBACK_SECRET', 'an-old-hmac-key-0123456789'],
    ['CALLBACK_SECRET', 'whsec_c2hvcnQ='],
    ['CALLBACK_SECRET', 'whsec_not base64!'],
    ['CALLBACK_SECRET', ' , '],
    ['CALLBACK_RETRY_AFTER_MAX_MS', '-1'],
    ['JOB_CANCEL_POLL_MS', '0']
  ])('refuses %s=%j with one line naming it', (name, value) => {
    const load = (): unknown => loadWorkerConfig({ [name]: value })
    expect(load).toThrow(ConfigError)
    expect(load).toThrow(new RegExp(`^invalid environment: [^\\n]*${name === 'NODE_ENV' ? 'CALLBACK_SECRET' : name}[^\\n]*$`))
  })
})
