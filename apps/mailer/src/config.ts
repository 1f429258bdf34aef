import { Type, type Static } from '@sinclair/typebox'
import { ConfigError, RedisEnv, ServiceEnv, loadConfig } from '@socialnet/config'
import { AmqpEnv, AmqpRetryEnv, BrokerConfigError, parseRetryDelays } from '@socialnet/broker'
import { DatabaseEnv } from '@socialnet/db'
import { parseDomainRates } from './pace-config'

/** Every environment variable the mailer reads, with its default (the README's Configuration table). */
export const MailerConfigSchema = Type.Object({
  ...AmqpEnv,
  ...AmqpRetryEnv,
  SMTP_URL: Type.String({ format: 'uri', pattern: '^smtps?://', default: 'smtp://127.0.0.1:1025' }),
  MAIL_FROM: Type.String({ minLength: 3, default: 'Social Network <noreply@socialnet.local>' }),
  PUBLIC_URL: Type.String({ format: 'uri', pattern: '^https?://', default: 'http://localhost:3000' }),
  /** DATABASE_URL: holds the dedupe record of every mail sent (table mail_deliveries). */
  ...DatabaseEnv,
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
  /** REDIS_URL: holds each receiving domain's pace, shared by every mailer replica. */
  ...RedisEnv,
  /** Mails a minute to one receiving domain, across all mailers; 0 = no pace but for MAIL_DOMAIN_RATES. */
  MAIL_DOMAIN_RATE_PER_MINUTE: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 600 }),
  /** Per-domain overrides of that pace: `example.com=60,other.org=1200` (0 = that domain unpaced). */
  MAIL_DOMAIN_RATES: Type.String({ default: '' }),
  /** Port for GET /metrics (Prometheus); 0 = no metrics server. */
  MAILER_METRICS_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 0 }),
  ...ServiceEnv
})

/** The mailer's validated environment. */
export type MailerConfig = Static<typeof MailerConfigSchema> & { retryDelaysMs: number[]; domainRates: Map<string, number> }

/** Reads and validates the mailer's environment once; throws ConfigError with one clear line. */
export function loadMailerConfig(env: NodeJS.ProcessEnv = process.env): MailerConfig {
  const config = loadConfig(MailerConfigSchema, env)
  try {
    return { ...config, retryDelaysMs: parseRetryDelays(config.AMQP_RETRY_DELAYS_MS), domainRates: parseDomainRates(config.MAIL_DOMAIN_RATES) }
  } catch (err) {
    if (err instanceof BrokerConfigError || err instanceof RangeError) throw new ConfigError(`invalid environment: ${err.message}`)
    throw err
  }
}
