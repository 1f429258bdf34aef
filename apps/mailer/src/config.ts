import { createPrivateKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Type, type Static } from '@sinclair/typebox'
import { ConfigError, RedisEnv, ServiceEnv, loadConfig } from '@socialnet/config'
import { AmqpEnv, EventsEnv, AmqpRetryEnv, BrokerConfigError, parseRetryDelays } from '@socialnet/broker'
import { DatabaseEnv } from '@socialnet/db'
import { parseDomainRates } from './pace-config'
import type { VerpConfig } from '@socialnet/sender'

const HOST_NAME = '^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9]$'

/** Every environment variable the mailer reads, with its default (the README's Configuration table). */
export const MailerConfigSchema = Type.Object({
  ...AmqpEnv,
  ...AmqpRetryEnv,
  /** EVENTS: `on` (default) or `off`, no events at all (docs/events.md). */
  ...EventsEnv,
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
  /** Delivery log rows (mail_attempts) and the bounce history are kept this long. */
  MAIL_LOG_RETENTION_DAYS: Type.Number({ minimum: 1, default: 30 }),
  /** VERP: when set, each mail's envelope sender is BOUNCE_LOCAL+<messageId>.<tag>@BOUNCE_DOMAIN, so a bounce names its mail. */
  BOUNCE_DOMAIN: Type.Optional(Type.String({ pattern: HOST_NAME })),
  BOUNCE_LOCAL: Type.String({ pattern: '^[A-Za-z0-9_-]{1,30}$', default: 'bounces' }),
  /** Keys the VERP tag (HMAC); required with BOUNCE_DOMAIN, shared with the bounce receiver. */
  BOUNCE_SECRET: Type.Optional(Type.String({ minLength: 16 })),
  /** DKIM: all three or none; when set every mail is signed. The key file is read once, at start. */
  DKIM_DOMAIN: Type.Optional(Type.String({ pattern: HOST_NAME })),
  DKIM_SELECTOR: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$' })),
  DKIM_PRIVATE_KEY_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** Port for GET /metrics (Prometheus); 0 = no metrics server. */
  MAILER_METRICS_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 0 }),
  ...ServiceEnv
})

/** How the mailer DKIM-signs, in nodemailer's own `dkim` option shape. */
export interface DkimSigning {
  domainName: string
  keySelector: string
  /** PEM, read from DKIM_PRIVATE_KEY_FILE at start. */
  privateKey: string
}

/** The mailer's validated environment, with what derives from it: retry delays, domain paces, VERP and DKIM (undefined = off). */
export type MailerConfig = Static<typeof MailerConfigSchema> & { retryDelaysMs: number[]; domainRates: Map<string, number>; verp?: VerpConfig; dkim?: DkimSigning }

/** Reads and validates the mailer's environment once (and the DKIM key file); throws ConfigError with one clear line. */
export function loadMailerConfig(env: NodeJS.ProcessEnv = process.env): MailerConfig {
  const config = loadConfig(MailerConfigSchema, env)
  try {
    return { ...config, retryDelaysMs: parseRetryDelays(config.AMQP_RETRY_DELAYS_MS), domainRates: parseDomainRates(config.MAIL_DOMAIN_RATES), verp: verpOf(config), dkim: dkimOf(config) }
  } catch (err) {
    if (err instanceof BrokerConfigError || err instanceof RangeError) throw new ConfigError(`invalid environment: ${err.message}`)
    throw err
  }
}

function verpOf(config: Static<typeof MailerConfigSchema>): VerpConfig | undefined {
  if (config.BOUNCE_DOMAIN === undefined) return undefined
  if (config.BOUNCE_SECRET === undefined) {
    throw new ConfigError('invalid environment: BOUNCE_SECRET (16 characters at least) is required when BOUNCE_DOMAIN is set')
  }
  return { local: config.BOUNCE_LOCAL, domain: config.BOUNCE_DOMAIN, secret: config.BOUNCE_SECRET }
}

// A key that cannot sign must stop the mailer at start, not fail every mail later.
function dkimOf(config: Static<typeof MailerConfigSchema>): DkimSigning | undefined {
  const { DKIM_DOMAIN: domainName, DKIM_SELECTOR: keySelector, DKIM_PRIVATE_KEY_FILE: file } = config
  const set = [domainName, keySelector, file].filter((v) => v !== undefined).length
  if (set === 0) return undefined
  if (domainName === undefined || keySelector === undefined || file === undefined) {
    throw new ConfigError('invalid environment: DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE go together (all three or none)')
  }
  let privateKey: string
  try {
    privateKey = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`invalid environment: DKIM_PRIVATE_KEY_FILE ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  let key: ReturnType<typeof createPrivateKey>
  try {
    key = createPrivateKey(privateKey)
  } catch {
    throw new ConfigError(`invalid environment: DKIM_PRIVATE_KEY_FILE ${file} holds no PEM private key`)
  }
  // Receivers ignore signatures by RSA keys under 1024 bits (RFC 8301).
  if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 1024) {
    throw new ConfigError(`invalid environment: DKIM_PRIVATE_KEY_FILE ${file} holds no RSA key of 1024 bits or more (npm run admin -- dkim generate makes one)`)
  }
  return { domainName, keySelector, privateKey }
}
