import { Type, type Static } from '@sinclair/typebox'
import { ConfigError, LogLevel, loadConfig } from '@socialnet/config'
import { parseRetryDelays, BrokerConfigError, DEFAULT_AMQP_URL } from '@socialnet/broker'

/** Every environment variable the mailer reads, with its default (the README's Configuration table). */
export const MailerConfigSchema = Type.Object({
  AMQP_URL: Type.String({ format: 'uri', pattern: '^amqps?://', default: DEFAULT_AMQP_URL }),
  /** Prefix for every exchange and queue name (test isolation, several stacks on one broker). */
  AMQP_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_.-]*$', default: '' }),
  /** Retry queue delays in ms, comma-separated, ascending; empty = 1s,5s,30s,2min,10min. */
  AMQP_RETRY_DELAYS_MS: Type.String({ pattern: '^[0-9, ]*$', default: '' }),
  SMTP_URL: Type.String({ format: 'uri', pattern: '^smtps?://', default: 'smtp://127.0.0.1:1025' }),
  MAIL_FROM: Type.String({ minLength: 3, default: 'Social Network <noreply@socialnet.local>' }),
  PUBLIC_URL: Type.String({ format: 'uri', pattern: '^https?://', default: 'http://localhost:3000' }),
  /** Holds the dedupe record of every mail sent (table mail_deliveries). */
  DATABASE_URL: Type.String({ format: 'uri', pattern: '^postgres(ql)?://', default: 'postgres://postgres@127.0.0.1:5432/socialnet' }),
  /** Mails handled at once by this mailer (AMQP prefetch); also the SMTP pool size cap. */
  MAIL_PREFETCH: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  /** SMTP connections kept open in the pool. */
  MAIL_SMTP_POOL: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
  /** A mail failing this many times (transiently) goes to the dead-letter queue. */
  MAIL_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 100, default: 6 }),
  /** Upper bound of one SMTP send (connect + greeting + data); also bounds the dedupe claim. */
  MAIL_SEND_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: 30000 }),
  /** Dedupe records of sent mails are kept this long (must outlast any redelivery or re-publish). */
  MAIL_DEDUPE_RETENTION_HOURS: Type.Number({ minimum: 1, default: 7 * 24 }),
  /** Port for GET /metrics (Prometheus); 0 = no metrics server. */
  MAILER_METRICS_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 0 }),
  /** This process's name in events and logs; default: the hostname (a container's id under compose). */
  REPLICA_ID: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7e]+$' })),
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, default: 10000 }),
  LOG_LEVEL: LogLevel
})

/** The mailer's validated environment. */
export type MailerConfig = Static<typeof MailerConfigSchema> & { retryDelaysMs: number[] }

/** Reads and validates the mailer's environment once; throws ConfigError with one clear line. */
export function loadMailerConfig(env: NodeJS.ProcessEnv = process.env): MailerConfig {
  const config = loadConfig(MailerConfigSchema, env)
  try {
    return { ...config, retryDelaysMs: parseRetryDelays(config.AMQP_RETRY_DELAYS_MS) }
  } catch (err) {
    if (err instanceof BrokerConfigError) throw new ConfigError(`invalid environment: ${err.message}`)
    throw err
  }
}
