/**
 * The broker's settings come from each app's env schema (@socialnet/config,
 * the one config loader); this module only holds their defaults and the one
 * value a JSON schema cannot check, the retry delays.
 */

/** Used when AMQP_URL is not set: the local RabbitMQ the README's test line expects. */
export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672'

/** 1 s, 5 s, 30 s, 2 min, 10 min: rides out a broker or SMTP restart without hammering it. */
export const DEFAULT_RETRY_DELAYS_MS = [1_000, 5_000, 30_000, 120_000, 600_000]

/** Raised for an unusable broker setting; the message is one readable line. */
export class BrokerConfigError extends Error {
  readonly code = 'BROKER_CONFIG_INVALID'
}

/** Parses AMQP_RETRY_DELAYS_MS ("1000,5000,30000"); empty means the defaults. Delays must be whole ms, 1 ms to 24 h, ascending. */
export function parseRetryDelays(value: string | undefined): number[] {
  if (value === undefined || value.trim() === '') return [...DEFAULT_RETRY_DELAYS_MS]
  const delays = value.split(',').map((part) => Number(part.trim()))
  const valid = delays.every((d, i) => Number.isInteger(d) && d >= 1 && d <= 86_400_000 && (i === 0 || d > delays[i - 1]!))
  if (!valid) throw new BrokerConfigError(`AMQP_RETRY_DELAYS_MS must be ascending whole milliseconds (1..86400000), got "${value}"`)
  return delays
}
