import { Type, type Static } from '@sinclair/typebox'
import { ServiceEnv, loadConfig } from '@socialnet/config'
import { AmqpEnv, EventsEnv } from '@socialnet/broker'
import { DatabaseEnv } from '@socialnet/db'

/** Every environment variable the bounce receiver reads, with its default (the README's Configuration table). */
export const BouncesConfigSchema = Type.Object({
  /** The domain whose MX points at this receiver; the domain part of every VERP return path. */
  BOUNCE_DOMAIN: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$' }),
  /** The local part before `+<messageId>.<tag>`. */
  BOUNCE_LOCAL: Type.String({ minLength: 1, maxLength: 20, pattern: '^[A-Za-z0-9._-]+$', default: 'bounces' }),
  /** Keys the VERP tag: the same value as the mailers'. Long enough that nobody guesses it. */
  BOUNCE_SECRET: Type.String({ minLength: 16 }),
  /** SMTP port the MX of BOUNCE_DOMAIN reaches. */
  BOUNCE_SMTP_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 2525 }),
  /** Address the SMTP port binds to. */
  BOUNCE_SMTP_HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  /** DATABASE_URL: the suppression list, the bounce history and the delivery log. */
  ...DatabaseEnv,
  /** AMQP_URL / AMQP_PREFIX: only for events (mail.bounced, mail.suppressed). */
  ...AmqpEnv,
  /** `off`: no broker connection at all; bounces are still applied. */
  ...EventsEnv,
  /** Port for GET /health, /ready and /metrics; 0 = none. */
  OPS_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 0 }),
  ...ServiceEnv
})

/** The bounce receiver's validated environment. */
export type BouncesConfig = Static<typeof BouncesConfigSchema>

/** Reads and validates the receiver's environment once; throws ConfigError with one clear line. */
export function loadBouncesConfig(env: NodeJS.ProcessEnv = process.env): BouncesConfig {
  return loadConfig(BouncesConfigSchema, env)
}
