/** Most mails a minute one domain may be given (MAIL_DOMAIN_RATE_PER_MINUTE's maximum too). */
export const MAX_DOMAIN_RATE = 1_000_000

const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/

/**
 * Parses MAIL_DOMAIN_RATES (`example.com=60,other.org=1200`): receiving
 * domain (lower-cased) -> mails a minute, 0 = not paced. Throws RangeError
 * naming the first bad entry: the config loader turns it into one line.
 */
export function parseDomainRates(value: string): Map<string, number> {
  const rates = new Map<string, number>()
  for (const entry of value.split(',')) {
    if (entry.trim() === '') continue
    const [rawDomain = '', rawRate, ...rest] = entry.split('=')
    const domain = rawDomain.trim().toLowerCase()
    const rate = Number(rawRate?.trim() || NaN)
    if (rest.length > 0 || !DOMAIN.test(domain) || !Number.isInteger(rate) || rate < 0 || rate > MAX_DOMAIN_RATE) {
      throw new RangeError(`MAIL_DOMAIN_RATES entries must be domain=mails-per-minute (a whole number 0..${MAX_DOMAIN_RATE}), got "${entry.trim()}"`)
    }
    if (rates.has(domain)) throw new RangeError(`MAIL_DOMAIN_RATES names ${domain} twice`)
    rates.set(domain, rate)
  }
  return rates
}
