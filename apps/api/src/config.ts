import { Type, type Static } from '@sinclair/typebox'
import { ConfigError, RedisEnv, ServiceEnv, loadConfig } from '@socialnet/config'
import { AmqpEnv, EventsEnv } from '@socialnet/broker'
import { DatabaseEnv } from '@socialnet/db'
import { StorageEnv, validateStorageConfig } from '@socialnet/storage'

/** Every environment variable the api reads, with its default (the README's Configuration table). */
export const ApiConfigSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  ...DatabaseEnv,
  ...RedisEnv,
  ...AmqpEnv,
  /** EVENTS: `on` (default) or `off`, no events at all (docs/events.md). */
  ...EventsEnv,
  PUBLIC_URL: Type.String({ format: 'uri', pattern: '^https?://', default: 'http://localhost:3000' }),
  /** RabbitMQ's management API (`http://user:pass@host:15672`); when set, admin queue stats include unacked counts. */
  RABBITMQ_MANAGEMENT_URL: Type.Optional(Type.String({ format: 'uri', pattern: '^https?://' })),
  /** How long the verification link in the welcome mail stays valid. */
  EMAIL_VERIFICATION_TTL_SECONDS: Type.Integer({ minimum: 60, default: 48 * 3600 }),
  /**
   * Registration limits (docs/users.md): sign-ups per client IP an hour (charged just before the
   * password hash), welcome/verification mails per recipient mailbox a day, and per recipient domain
   * and in total a minute (past those the account is created and its mail withheld), verification
   * resends per account an hour. 0 turns a limit off (load tests, benchmarks).
   */
  REGISTER_RATE_PER_IP: Type.Integer({ minimum: 0, default: 10 }),
  WELCOME_MAILS_PER_MAILBOX_PER_DAY: Type.Integer({ minimum: 0, default: 1 }),
  WELCOME_MAILS_PER_DOMAIN_PER_MINUTE: Type.Integer({ minimum: 0, default: 60 }),
  WELCOME_MAILS_PER_MINUTE: Type.Integer({ minimum: 0, default: 300 }),
  VERIFICATION_RESENDS_PER_HOUR: Type.Integer({ minimum: 0, default: 3 }),
  /** Redis key prefix of those counters: two deployments sharing one Redis need different ones. */
  REGISTRATION_REDIS_PREFIX: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_.:-]+$', default: 'socialnet:register:' }),
  /** Days an account may stay unverified before the sweep deletes it (freeing nickname and address); 0 = kept forever. */
  UNVERIFIED_ACCOUNT_DAYS: Type.Integer({ minimum: 0, maximum: 3650, default: 7 }),
  /** How often each replica runs that sweep (every replica may; the delete is idempotent). */
  UNVERIFIED_SWEEP_INTERVAL_MS: Type.Integer({ minimum: 1000, default: 3600_000 }),
  /** Outbox relay: safety poll (NOTIFY wakes it at once), claim size, and how long sent rows are kept. */
  OUTBOX_POLL_MS: Type.Integer({ minimum: 100, default: 5000 }),
  OUTBOX_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  OUTBOX_RETENTION_HOURS: Type.Number({ minimum: 0, default: 7 * 24 }),
  /** Async jobs: Redis key prefix and lifetime of a job's status (refreshed on every change); must match the worker's. */
  JOBS_REDIS_PREFIX: Type.String({ default: 'socialnet:jobs:' }),
  JOB_STATUS_TTL_SECONDS: Type.Integer({ minimum: 60, default: 24 * 3600 }),
  /**
   * Per-user job rate: jobs of any type per minute, and email jobs per hour
   * (each is a mail sent under our name); 0 turns a limit off (benchmarks).
   */
  JOB_RATE_PER_MINUTE: Type.Integer({ minimum: 0, default: 10 }),
  JOB_EMAIL_RATE_PER_HOUR: Type.Integer({ minimum: 0, default: 20 }),
  /** `log` job data (JSON bytes) each user may keep in job_log until the worker's retention sweep removes it. */
  JOB_LOG_QUOTA_BYTES: Type.Integer({ minimum: 1024, default: 10 * 1048576 }),
  /**
   * `log` job data all users together may keep in job_log (a log job past it -> 507 JOB_LOG_FULL; the
   * worker has the same cap), and how often the api reads that total (a cached sum; 0 = every submission)
   * and each verified user's kept bytes (JobLogUsage).
   */
  JOB_LOG_MAX_TOTAL_BYTES: Type.Integer({ minimum: 1024, default: 256 * 1048576 }),
  JOB_LOG_TOTAL_REFRESH_MS: Type.Integer({ minimum: 0, maximum: 60_000, default: 5000 }),
  /** Callback hosts accepted at submit time even if private (comma list); the worker has its own, authoritative copy. */
  CALLBACK_ALLOW_HOSTS: Type.String({ default: '' }),
  KV_LOG: Type.Union([Type.Literal('file'), Type.Literal('postgres')], { default: 'file' }),
  KV_LOG_PATH: Type.String({ minLength: 1, default: './data/kv.log' }),
  KV_FSYNC: Type.Union([Type.Literal('always'), Type.Literal('batch'), Type.Literal('off')], { default: 'always' }),
  KV_MAX_VALUE_BYTES: Type.Integer({ minimum: 1, default: 1048576 }),
  /** `token`: every KV request needs an API key with the route's scope; `open`: anyone may read and write (local experiments, benchmarks). */
  KV_AUTH: Type.Union([Type.Literal('token'), Type.Literal('open')], { default: 'token' }),
  /** Cap on the live data (keys + values of live entries); a PUT that would pass it -> 507. */
  KV_MAX_TOTAL_BYTES: Type.Integer({ minimum: 1, default: 256 * 1048576 }),
  /** How long a verified API key (or a refused one) is remembered: a revocation takes effect within this time. */
  API_KEY_CACHE_MS: Type.Integer({ minimum: 0, maximum: 10000, default: 2000 }),
  /** Compaction starts once the log is this big and at least KV_COMPACT_RATIO times the live data. */
  KV_COMPACT_MIN_BYTES: Type.Integer({ minimum: 0, default: 64 * 1048576 }),
  KV_COMPACT_RATIO: Type.Number({ minimum: 1.1, default: 2 }),
  UPLOAD_MAX_BYTES: Type.Integer({ minimum: 1, default: 10485760 }),
  /** Where uploads are spooled before decoding; default: a per-process folder under the OS temp dir. */
  UPLOAD_TMP_DIR: Type.Optional(Type.String({ minLength: 1 })),
  /** Avatars: where images are stored (STORAGE, STORAGE_DIR, S3_*; see docs/images.md). */
  ...StorageEnv,
  /** Decoded pixels an upload may have (width x height); more -> 422. sharp's own default is ~268 MP. */
  IMAGE_MAX_PIXELS: Type.Integer({ minimum: 1, default: 40_000_000 }),
  /**
   * Image decodes run at once (each 9 MP JPEG holds 50-90 MB while it is decoded and re-encoded).
   * Default: half the cores, at least one; the other cores take in uploads and serve requests.
   */
  IMAGE_ENCODE_SLOTS: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
  /** Longest side an upload may have, in pixels (header check, before decoding); a 40 MP photo at 16:9 is 8433 px wide. */
  IMAGE_MAX_SIDE: Type.Integer({ minimum: 1, default: 10_000 }),
  /** Long side / short side an upload may have (header check): thin strips decode slowly for their pixels. */
  IMAGE_MAX_ASPECT: Type.Number({ minimum: 1, default: 20 }),
  /** Seconds one decode and re-encode may take before it is stopped (422 IMAGE_TOO_SLOW). */
  IMAGE_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 10 }),
  /** Images of at most this many pixels (default 2048 x 2048, the stored size) go to the small lane. */
  IMAGE_SMALL_PIXELS: Type.Integer({ minimum: 0, default: 2048 * 2048 }),
  /** Decode slots reserved for small images, on top of IMAGE_ENCODE_SLOTS; 0 = none (one lane for all). */
  IMAGE_SMALL_SLOTS: Type.Integer({ minimum: 0, maximum: 64, default: 1 }),
  /** With STORAGE=s3: answer image GETs with a redirect to a presigned URL instead of proxying the bytes. */
  IMAGE_S3_REDIRECT: Type.Boolean({ default: false }),
  /** Sessions: lifetime of a login token. */
  SESSIONS_REDIS_PREFIX: Type.String({ default: 'socialnet:auth:' }),
  SESSION_TTL_SECONDS: Type.Integer({ minimum: 1, default: 7 * 24 * 3600 }),
  /** Login protection: consecutive failures of one login from one client IP before that pair is blocked. */
  LOGIN_MAX_CONSECUTIVE_FAILURES: Type.Integer({ minimum: 1, default: 10 }),
  /** Login protection: failures from one client IP per day, any login, before the IP is blocked for a day. */
  LOGIN_MAX_FAILURES_PER_IP: Type.Integer({ minimum: 1, default: 100 }),
  /** Login protection: a blocked pair's first block; it doubles with each further block within a day (at most a day). */
  LOGIN_BLOCK_SECONDS: Type.Integer({ minimum: 1, maximum: 86_400, default: 900 }),
  /** Login protection: failed logins of one account in a day (any address) at which its owner gets a mail; 0 = never. */
  LOGIN_ALERT_AFTER_FAILURES: Type.Integer({ minimum: 0, default: 20 }),
  RATE_LIMIT_RPS: Type.Integer({ minimum: 0, default: 50 }),
  /** Redis key prefix of the API-wide rate limit's counters: two deployments sharing one Redis need different ones. */
  RATE_LIMIT_REDIS_PREFIX: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_.:-]+$', default: 'socialnet:rl:api:' }),
  /** When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; unset = open to whoever reaches the api. */
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16, maxLength: 256, pattern: '^[\\x21-\\x7e]+$' })),
  TLS_CERT: Type.Optional(Type.String({ minLength: 1 })),
  TLS_KEY: Type.Optional(Type.String({ minLength: 1 })),
  /** Proxies whose X-Forwarded-For is believed (nginx); empty = none. They are also exempt from MAX_CONNECTIONS_PER_IP. */
  TRUST_PROXY: Type.String({ default: '' }),
  /**
   * Connections (docs/operations.md): a request's headers must arrive within HEADERS_TIMEOUT_MS and
   * the whole request within REQUEST_TIMEOUT_MS (408 otherwise; uploads included), an idle keep-alive
   * socket is closed after KEEP_ALIVE_TIMEOUT_MS, and a socket silent both ways for SOCKET_IDLE_TIMEOUT_MS
   * is destroyed. Sockets are checked every CONNECTIONS_CHECK_MS, so a slow header is cut within
   * HEADERS_TIMEOUT_MS + CONNECTIONS_CHECK_MS.
   */
  HEADERS_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 120_000 }),
  KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
  SOCKET_IDLE_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 120_000 }),
  CONNECTIONS_CHECK_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 1000 }),
  /**
   * Open sockets one client address may hold (past it a new one is closed at once; TRUST_PROXY
   * addresses are exempt: behind nginx, nginx's limit_conn counts the clients); 0 = no cap.
   */
  MAX_CONNECTIONS_PER_IP: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 256 }),
  /** Open sockets in all; default: the open-files limit (`ulimit -n`) less a tenth (at least 256) for pools and files; 0 = no cap. */
  MAX_CONNECTIONS: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000 })),
  /** Event stream (docs/events.md): Redis key prefix of the stream and the replicas seen; shared by every replica. */
  EVENTS_REDIS_PREFIX: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_.:-]+$', default: 'socialnet:events:' }),
  /** Hard cap of the Redis stream's length, on top of its 10-minute window (a burst cannot fill Redis). */
  EVENTS_STREAM_MAX_LEN: Type.Integer({ minimum: 1000, maximum: 10_000_000, default: 100_000 }),
  /** Events held while the broker is away before the oldest are dropped (socialnet_events_dropped_total). */
  EVENTS_PUBLISH_BUFFER: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1000 }),
  /** Open event streams (SSE) allowed per user, and per api replica in all. */
  EVENTS_STREAMS_PER_USER: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
  EVENTS_MAX_STREAMS: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 }),
  /**
   * Streams one client address may hold on a replica, whatever the accounts (default: a tenth of
   * EVENTS_MAX_STREAMS, so one address cannot fill a replica); streams an unverified account may
   * hold (0 = none); and a stream's lifetime, after which it ends with `stream.end` and the client
   * reconnects with Last-Event-ID.
   */
  EVENTS_STREAMS_PER_IP: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
  EVENTS_STREAMS_UNVERIFIED: Type.Integer({ minimum: 0, maximum: 100, default: 1 }),
  EVENTS_STREAM_MAX_LIFETIME_MS: Type.Integer({ minimum: 1000, maximum: 86_400_000, default: 1_800_000 }),
  /** Bytes an event stream may have waiting in its socket before the client counts as too slow and is dropped. */
  EVENTS_CLIENT_BUFFER_BYTES: Type.Integer({ minimum: 1024, maximum: 67_108_864, default: 262_144 }),
  /** Interval of the `: ping` comment that keeps proxies from closing an idle stream. */
  EVENTS_HEARTBEAT_MS: Type.Integer({ minimum: 100, maximum: 300_000, default: 15_000 }),
  /**
   * Replicas that are signalled together (docker compose restart) leave one at a time: a stopping
   * replica keeps serving up to this long while another is away; 0 = leave at once. The turn passes
   * when a replica has listened SHUTDOWN_HANDOFF_SETTLE_MS; SHUTDOWN_HANDOFF_KEY is its Redis key.
   */
  SHUTDOWN_HANDOFF_MS: Type.Integer({ minimum: 0, maximum: 120000, default: 0 }),
  SHUTDOWN_HANDOFF_SETTLE_MS: Type.Integer({ minimum: 0, maximum: 60000, default: 6000 }),
  SHUTDOWN_HANDOFF_KEY: Type.String({ minLength: 1, default: 'socialnet:api:leaving' }),
  /**
   * Part of the grace period spent refusing new connections while open ones drain; longer than
   * the proxy's upstream keepalive_timeout (nginx: 2 s), so the proxy closes its idle sockets.
   */
  SHUTDOWN_DRAIN_MS: Type.Integer({ minimum: 0, default: 3000 }),
  /** The web console's build output, served at `/` (default: apps/console/dist beside this package; missing = not served). */
  CONSOLE_DIR: Type.Optional(Type.String({ minLength: 1 })),
  /** REPLICA_ID, SHUTDOWN_GRACE_MS, LOG_LEVEL: as every service reads them. */
  ...ServiceEnv
})

export type ApiConfig = Static<typeof ApiConfigSchema>

/** Reads and validates the api's environment; throws ConfigError with one clear line. */
export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const config = loadConfig(ApiConfigSchema, env)
  if (Boolean(config.TLS_CERT) !== Boolean(config.TLS_KEY)) {
    throw new ConfigError('invalid environment: TLS_CERT and TLS_KEY must be set together')
  }
  if (config.SHUTDOWN_DRAIN_MS >= config.SHUTDOWN_GRACE_MS && config.SHUTDOWN_DRAIN_MS > 0) {
    throw new ConfigError('invalid environment: SHUTDOWN_DRAIN_MS must be shorter than SHUTDOWN_GRACE_MS (the drain is part of the grace period)')
  }
  if (config.SOCKET_IDLE_TIMEOUT_MS <= config.EVENTS_HEARTBEAT_MS) {
    throw new ConfigError('invalid environment: SOCKET_IDLE_TIMEOUT_MS must be longer than EVENTS_HEARTBEAT_MS (an idle event stream would be cut between two pings)')
  }
  if (config.HEADERS_TIMEOUT_MS > config.REQUEST_TIMEOUT_MS) {
    throw new ConfigError('invalid environment: HEADERS_TIMEOUT_MS must not be longer than REQUEST_TIMEOUT_MS')
  }
  validateStorageConfig(config)
  return config
}
