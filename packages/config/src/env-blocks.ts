import { Type } from '@sinclair/typebox'
import { LogLevel } from './logger'

/**
 * Environment variables every service reads the same way, as TypeBox properties
 * each app spreads into its own env schema (the README's Configuration table).
 */
export const ServiceEnv = {
  /** This process's name in events and logs; default: the hostname (a container's id under compose). */
  REPLICA_ID: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7e]+$' })),
  /**
   * Between two `replica.heartbeat` events: the admin console lists a replica from them, greys it
   * after three missed beats and drops it after a minute.
   */
  REPLICA_HEARTBEAT_MS: Type.Integer({ minimum: 100, maximum: 20_000, default: 5000 }),
  /** How long a stopping process lets the work in hand finish. */
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, default: 10000 }),
  LOG_LEVEL: LogLevel
}

/** Redis, for the api (sessions, rate limits, events, job status) and the worker (job status). */
export const RedisEnv = {
  REDIS_URL: Type.String({ format: 'uri', pattern: '^rediss?://', default: 'redis://127.0.0.1:6379' })
}
