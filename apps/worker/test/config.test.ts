import { ConfigError } from '@socialnet/config'
import { loadWorkerConfig } from '../src/config'

describe('worker environment', () => {
  it('applies the defaults and parses the retry delays once', () => {
    const config = loadWorkerConfig({ AMQP_RETRY_DELAYS_MS: '100,1000' })
    expect(config.retryDelaysMs).toEqual([100, 1000])
    expect(config.LOG_LEVEL).toBe('info')
    expect(config.JOB_LOG_RETENTION_DAYS).toBe(30)
  })

  it.each([
    ['REDIS_URL', 'redis://a b'],
    ['DATABASE_URL', 'postgres://[::1'],
    ['AMQP_RETRY_DELAYS_MS', '5000,1000'],
    ['LOG_LEVEL', 'loud'],
    ['JOB_LOG_RETENTION_DAYS', '0'],
    ['JOB_LOG_RETENTION_DAYS', 'a month'],
    ['NODE_ENV', 'production']
  ])('refuses %s=%j with one line naming it', (name, value) => {
    const load = (): unknown => loadWorkerConfig({ [name]: value })
    expect(load).toThrow(ConfigError)
    expect(load).toThrow(new RegExp(`^invalid environment: [^\\n]*${name === 'NODE_ENV' ? 'CALLBACK_SECRET' : name}[^\\n]*$`))
  })
})
