import { ConfigError } from '@socialnet/config'
import { loadMailerConfig } from '../src/config'
import { MAX_PACE_LEVEL, paceWindow } from '../src/pace'

describe('MAIL_DOMAIN_RATES', () => {
  it('parses per-domain overrides, lower-cased, next to the default pace', () => {
    const config = loadMailerConfig({ MAIL_DOMAIN_RATES: ' Example.com=60, other.org=1200,quiet.net=0 ' })
    expect(config.MAIL_DOMAIN_RATE_PER_MINUTE).toBe(600)
    expect([...config.domainRates]).toEqual([['example.com', 60], ['other.org', 1200], ['quiet.net', 0]])
    expect(loadMailerConfig({}).domainRates.size).toBe(0)
  })

  it.each(['example.com', 'example.com=fast', 'example.com=1.5', 'example.com=-1', '@x.org=5', 'a=1=2', 'x.org=1,x.org=2'])('refuses %j with one line naming it', (value) => {
    const load = (): unknown => loadMailerConfig({ MAIL_DOMAIN_RATES: value })
    expect(load).toThrow(ConfigError)
    expect(load).toThrow(/^invalid environment: MAIL_DOMAIN_RATES [^\n]*$/)
  })

  it('refuses a negative default pace', () => {
    expect(() => loadMailerConfig({ MAIL_DOMAIN_RATE_PER_MINUTE: '-1' })).toThrow(/MAIL_DOMAIN_RATE_PER_MINUTE/)
  })
})

describe('paceWindow', () => {
  it.each([
    [600, 10, 1],
    [60, 8, 8],
    [100, 10, 6],
    [1, 8, 480],
    [7, 14, 120],
    [6000, 100, 1]
  ])('%i/min -> %i tokens every %i s', (rate, points, durationS) => {
    expect(paceWindow(rate)).toEqual({ points, durationS })
  })

  it('always holds a mail at the slowest level, and stays within 7% of the rate', () => {
    for (let rate = 1; rate <= 1500; rate++) {
      const { points, durationS } = paceWindow(rate)
      expect(points).toBeGreaterThanOrEqual(2 ** MAX_PACE_LEVEL)
      expect(Math.abs((points * 60) / durationS - rate) / rate).toBeLessThan(0.07)
    }
  })
})
