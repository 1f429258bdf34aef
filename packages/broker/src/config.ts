import { Type } from '@sinclair/typebox'

/**
 * The broker's settings, as TypeBox properties each app spreads into its own
 * env schema (@socialnet/config is the one config loader), their defaults, and
 * the one value a JSON schema cannot check, the retry delays.
 */

/** Used when AMQP_URL is not set: the local RabbitMQ the README's test line expects. */
export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672'

/** Where RabbitMQ is, and the prefix of every name this process declares. */
export const AmqpEnv = {
  AMQP_URL: Type.String({ format: 'uri', pattern: '^amqps?://', default: DEFAULT_AMQP_URL }),
  /** Prefix for every exchange and queue name (test isolation, several stacks on one broker). */
  AMQP_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_.-]*$', default: '' })
}

/**
 * EVENTS: `off` turns the process's whole event path off (docs/events.md): it publishes nothing
 * (not even its heartbeat), and the api neither collects nor serves events.
 */
export const EventsEnv = {
  EVENTS: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on' })
}

/** For consumers: the backoff of failed attempts (parse it with parseRetryDelays). */
export const AmqpRetryEnv = {
  /** Comma-separated ms, ascending; empty = 1 s, 5 s, 30 s, 2 min, 10 min. */
  AMQP_RETRY_DELAYS_MS: Type.String({ pattern: '^[0-9, ]*$', default: '' })
}

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
