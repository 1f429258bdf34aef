/** Everything the broker package needs from the environment. */
export interface BrokerConfig {
  /** AMQP URL with this service's own credentials (each service has its own user). */
  url: string
  /** Prepended to every exchange and queue name; tests use a random one for isolation. */
  prefix: string
  /** Delays of the retry queues, shortest first; attempt n waits delaysMs[min(n-1, last)]. */
  retryDelaysMs: number[]
}

/** Used when AMQP_URL is not set: the local RabbitMQ of DESIGN.md. */
export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672'

/** 1 s, 5 s, 30 s, 2 min, 10 min: rides out a broker or SMTP restart without hammering it. */
export const DEFAULT_RETRY_DELAYS_MS = [1_000, 5_000, 30_000, 120_000, 600_000]

/** Raised for an unusable broker setting; the message is one readable line. */
export class BrokerConfigError extends Error {
  readonly code = 'BROKER_CONFIG_INVALID'
}

/**
 * Reads AMQP_URL, AMQP_PREFIX and AMQP_RETRY_DELAYS_MS (comma-separated ms).
 * Apps validate their whole env with @socialnet/config first; this only
 * turns the broker's part into a typed object with the same defaults.
 */
export function brokerConfig(env: NodeJS.ProcessEnv = process.env): BrokerConfig {
  const url = env.AMQP_URL || DEFAULT_AMQP_URL
  if (!/^amqps?:\/\//.test(url)) throw new BrokerConfigError('AMQP_URL must start with amqp:// or amqps://')
  const prefix = env.AMQP_PREFIX ?? ''
  if (!/^[A-Za-z0-9._-]*$/.test(prefix)) throw new BrokerConfigError('AMQP_PREFIX may hold only letters, digits, ".", "_" and "-"')
  return { url, prefix, retryDelaysMs: parseRetryDelays(env.AMQP_RETRY_DELAYS_MS) }
}

/** Parses "1000,5000,30000"; empty means the defaults. Delays must be whole ms, 1 ms to 24 h, ascending. */
export function parseRetryDelays(value: string | undefined): number[] {
  if (value === undefined || value.trim() === '') return [...DEFAULT_RETRY_DELAYS_MS]
  const delays = value.split(',').map((part) => Number(part.trim()))
  const valid = delays.every((d, i) => Number.isInteger(d) && d >= 1 && d <= 86_400_000 && (i === 0 || d > delays[i - 1]!))
  if (!valid) throw new BrokerConfigError(`AMQP_RETRY_DELAYS_MS must be ascending whole milliseconds (1..86400000), got "${value}"`)
  return delays
}
