import { Type, type Static } from '@sinclair/typebox'
import { ConfigError, RedisEnv, ServiceEnv, loadConfig } from '@socialnet/config'
import { AmqpEnv, EventsEnv, AmqpRetryEnv, BrokerConfigError, parseRetryDelays } from '@socialnet/broker'
import { DatabaseEnv } from '@socialnet/db'
import { DEFAULT_JOBS_PREFIX, DEFAULT_JOB_TTL_SECONDS } from '@socialnet/jobs'
import { StorageEnv, validateStorageConfig } from '@socialnet/storage'
import { CallbackSecretError, parseCallbackSecrets } from './callback/webhook-signer'

/** Every environment variable the worker reads, with its default (the README's Configuration table and docs/jobs.md). */
export const WorkerConfigSchema = Type.Object({
  NODE_ENV: Type.String({ default: 'development' }),
  ...AmqpEnv,
  ...AmqpRetryEnv,
  /** EVENTS: `on` (default) or `off`, no events at all (docs/events.md). */
  ...EventsEnv,
  ...DatabaseEnv,
  ...RedisEnv,
  /** Key prefix and lifetime of job status in Redis; must match the api's. */
  JOBS_REDIS_PREFIX: Type.String({ default: DEFAULT_JOBS_PREFIX }),
  JOB_STATUS_TTL_SECONDS: Type.Integer({ minimum: 60, default: DEFAULT_JOB_TTL_SECONDS }),
  /** Unacked job messages per worker process, and how many starts a job gets before it is FAILED. */
  JOBS_PREFETCH: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  JOBS_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 50, default: 5 }),
  /** Hosts a callback may reach even if they resolve to private addresses (comma list, e.g. 127.0.0.1 in tests). */
  CALLBACK_ALLOW_HOSTS: Type.String({ default: '' }),
  /**
   * Standard Webhooks signing secrets: comma-separated `whsec_<base64>` (24..64
   * bytes each); while rotating, every one signs. Required when
   * NODE_ENV=production; in development a random per-process secret is used
   * and a warning says callbacks cannot be verified.
   */
  CALLBACK_SECRET: Type.Optional(Type.String()),
  CALLBACK_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120000, default: 10000 }),
  /** The longest Retry-After (429/503) a callback honours; longer asks wait this long. */
  CALLBACK_RETRY_AFTER_MAX_MS: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 600_000 }),
  /** While a job runs, how often the worker looks whether its owner cancelled it. */
  JOB_CANCEL_POLL_MS: Type.Integer({ minimum: 50, maximum: 60_000, default: 250 }),
  /** Bytes of the receiver's answer we read at most; more is cut off and counts as a failure. */
  CALLBACK_MAX_RESPONSE_BYTES: Type.Integer({ minimum: 0, maximum: 10485760, default: 65536 }),
  /** Image storage, shared with the api (STORAGE, STORAGE_DIR, S3_*; see docs/images.md). */
  ...StorageEnv,
  /** Thumbnail messages handled at once per worker process (each decodes an image). */
  THUMBNAILS_PREFETCH: Type.Integer({ minimum: 1, maximum: 64, default: 2 }),
  /** Seconds one thumbnail may take to make; past it the message is dead-lettered (THUMBNAIL_TOO_SLOW). */
  THUMBNAIL_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 10 }),
  /** Image sweeper: how often it runs, how long replaced avatars stay served, when an unfinished upload counts as abandoned. */
  IMAGE_SWEEP_INTERVAL_MS: Type.Integer({ minimum: 1000, default: 60_000 }),
  IMAGE_REPLACED_GRACE_SECONDS: Type.Integer({ minimum: 0, default: 600 }),
  IMAGE_ABANDONED_AFTER_SECONDS: Type.Integer({ minimum: 60, default: 900 }),
  /** `log` job data: how many days a job_log row is kept, and how often the worker deletes older ones. */
  JOB_LOG_RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 36500, default: 30 }),
  JOB_LOG_SWEEP_INTERVAL_MS: Type.Integer({ minimum: 1000, default: 3_600_000 }),
  /** All `log` job data together: a row past this cap is not written (the job FAILED, JOB_LOG_FULL); the total is read every REFRESH_MS. */
  JOB_LOG_MAX_TOTAL_BYTES: Type.Integer({ minimum: 1024, default: 256 * 1048576 }),
  JOB_LOG_TOTAL_REFRESH_MS: Type.Integer({ minimum: 0, maximum: 60_000, default: 5000 }),
  ...ServiceEnv
})

/** The worker's validated environment, with the retry delays parsed once. */
export type WorkerConfig = Static<typeof WorkerConfigSchema> & {
  retryDelaysMs: number[]
  /** CALLBACK_SECRET parsed; empty when unset (development: the worker makes one up). */
  callbackSecrets: string[]
}

/** Reads and validates the worker's environment once; throws ConfigError with one clear line. */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const config = loadConfig(WorkerConfigSchema, env)
  if (config.NODE_ENV === 'production' && !config.CALLBACK_SECRET) {
    throw new ConfigError('invalid environment: CALLBACK_SECRET (whsec_<base64>, see .env.example) is required when NODE_ENV=production')
  }
  validateStorageConfig(config)
  try {
    const callbackSecrets = config.CALLBACK_SECRET ? parseCallbackSecrets(config.CALLBACK_SECRET) : []
    return { ...config, retryDelaysMs: parseRetryDelays(config.AMQP_RETRY_DELAYS_MS), callbackSecrets }
  } catch (err) {
    if (err instanceof BrokerConfigError || err instanceof CallbackSecretError) throw new ConfigError(`invalid environment: ${err.message}`)
    throw err
  }
}
