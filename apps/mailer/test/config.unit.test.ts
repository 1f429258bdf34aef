import { ConfigError } from '@socialnet/config'
import { loadMailerConfig } from '../src/config'

describe('mailer environment', () => {
  it('applies the defaults and parses the retry delays once', () => {
    const config = loadMailerConfig({})
    expect(config.retryDelaysMs).toEqual([1000, 5000, 30000, 120000, 600000])
    expect(config.PUBLIC_URL).toBe('http://localhost:3000')
  })

  it.each([
    ['PUBLIC_URL', 'http://'],
    ['SMTP_URL', 'smtp://mail host'],
    ['AMQP_RETRY_DELAYS_MS', '5000,1000'],
    ['MAIL_PREFETCH', '0']
  ])('refuses %s=%j with one line naming it', (name, value) => {
    const load = (): unknown => loadMailerConfig({ [name]: value })
    expect(load).toThrow(ConfigError)
    expect(load).toThrow(new RegExp(`^invalid environment: [^\\n]*${name}[^\\n]*$`))
  })
})
