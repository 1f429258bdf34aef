import { readFileSync } from 'node:fs'
import type { ServerOptions } from 'node:http'
import { availableParallelism, hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { loggerOptions } from '@socialnet/config'
import { isEmailAddress } from '@socialnet/contracts'
import type { ApiConfig } from './config'
import { RequestLog, serializeRequest } from './request-log'
import swagger from './plugins/external/swagger'
import rateLimit from './plugins/external/rate-limit'
import errors, { clientErrorHandler } from './plugins/errors'
import { ErrorCode } from './errors'
import securityHeaders from './plugins/external/helmet'
import readiness from './plugins/readiness'
import metrics from './plugins/metrics'
import connectionLimits, { defaultMaxConnections } from './plugins/connection-limits'
import { isTrustedProxy, trustedProxies } from './plugins/trusted-proxies'
import db from './plugins/db'
import redis from './plugins/redis'
import departures from './plugins/departures'
import broker from './plugins/broker'
import kvStore from './kv/plugin'
import kvRoutes from './kv/routes'
import apiKeys from './api-keys/plugin'
import opsRoutes from './ops/routes'
import consoleFiles from './console/plugin'
import { DEFAULT_CONSOLE_DIR } from './console/build'
import usersRoutes from './users/routes'
import outboxRelay from './outbox/plugin'
import jobsService from './jobs/plugin'
import jobsRoutes from './jobs/routes'
import jobShortcutRoutes from './jobs/shortcut-routes'
import sessions from './sessions/plugin'
import sessionsRoutes from './sessions/routes'
import accountRoutes from './users/account-routes'
import registrationLimits from './users/limits-plugin'
import unverifiedSweep from './users/unverified-sweep'
import verificationRoutes from './users/verification-routes'
import imageStorage from './images/plugin'
import imageRoutes from './images/routes'
import admin from './admin/plugin'
import adminQueueRoutes from './admin/queue-routes'
import events from './events/publisher'
import eventStreams from './events/plugin'
import eventRoutes from './events/routes'
import adminDlqRoutes from './admin/dlq-routes'
import adminMailRoutes from './admin/mail-routes'
import adminSuppressionRoutes from './admin/suppression-routes'

const REQUEST_ID = /^[\w.-]{1,64}$/
/**
 * Request ids made here: a random prefix per process and a counter, unique across replicas
 * and restarts without a UUID's entropy per request (its random refills showed in the GET profile).
 */
const BOOT_ID = randomBytes(6).toString('hex')
let requestCount = 0

/** The shared pino setup, with the api's request serializer (secrets in query strings redacted). */
export function apiLoggerOptions(level: string, replica?: string): ReturnType<typeof loggerOptions> {
  return { ...loggerOptions('api', level, replica), serializers: { req: serializeRequest } }
}

/** The ajv instance fastify validates route schemas with (@fastify/ajv-compiler's). */
type AjvInstance = Parameters<NonNullable<NonNullable<FastifyServerOptions['ajv']>['onCreate']>>[0]

/**
 * Format `email` in route schemas: ajv-formats' syntax and, on top, the rule every mail path
 * shares (@socialnet/contracts: no `%`, no IP-literal domain), so the api never accepts an
 * address the mailer's contracts would refuse. Runs after ajv-formats registered its own.
 */
function withSharedEmailRule(ajv: AjvInstance): void {
  const standard = ajv.formats.email
  if (!(standard instanceof RegExp)) throw new Error('ajv-formats no longer registers email as a RegExp: revisit withSharedEmailRule')
  ajv.addFormat('email', { type: 'string', validate: (value: string) => standard.test(value) && isEmailAddress(value) })
}

/** Options for the Fastify constructor: logger, HTTPS, limits, proxy trust. */
export function serverOptions(config: ApiConfig): FastifyServerOptions & { http?: ServerOptions; https?: { cert: Buffer; key: Buffer } } {
  const proxies = trustedProxies(config.TRUST_PROXY)
  const fromTrustedProxy = isTrustedProxy(proxies)
  // Node's defaults (headers 60 s, checked every 30 s) let a slow-header socket live ~78 s:
  // a few thousand of them took every file descriptor. Passed to http(s).createServer.
  const http = { headersTimeout: config.HEADERS_TIMEOUT_MS, connectionsCheckingInterval: config.CONNECTIONS_CHECK_MS }
  return {
    logger: apiLoggerOptions(config.LOG_LEVEL),
    logController: new RequestLog(),
    https: config.TLS_CERT && config.TLS_KEY
      ? { cert: readFileSync(config.TLS_CERT), key: readFileSync(config.TLS_KEY), ...http }
      : undefined,
    http,
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    // Socket inactivity (neither side sent a byte); event streams ping well within it.
    connectionTimeout: config.SOCKET_IDLE_TIMEOUT_MS,
    // JSON bodies are small; routes that take more (KV values, uploads) raise their own limit.
    bodyLimit: 64 * 1024,
    trustProxy: proxies.length > 0 ? proxies : false,
    // A client's own X-Request-Id is believed only from a trusted proxy (nginx, which passes its
    // $request_id): anyone else could reuse one id for all their requests, or another request's
    // id, and blur which log lines belong together.
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      const fromProxy = fromTrustedProxy(req.socket?.remoteAddress ?? '')
      return fromProxy && typeof given === 'string' && REQUEST_ID.test(given) ? given : `${BOOT_ID}-${(++requestCount).toString(36)}`
    },
    requestIdHeader: false,
    // One rule for every JSON body: an unknown field is a 400 naming it (fastify's default would
    // drop it silently), and a 400 lists every bad field, not just the first.
    ajv: { customOptions: { removeAdditional: false, allErrors: true }, onCreate: withSharedEmailRule },
    routerOptions: { maxParamLength: 8192, ignoreTrailingSlash: false },
    // Router-level URL errors (broken escapes, over-long params) get the api's error shape too;
    // on /v1/key/ both mean a bad key, which the API answers with 400.
    frameworkErrors: (err, request, reply) => {
      const isKey = request.url.startsWith('/v1/key/')
      const status = isKey ? 400 : (err.statusCode ?? 400)
      void (reply as FastifyReply).code(status).send({ error: isKey ? ErrorCode.BAD_KEY : status === 414 ? ErrorCode.URI_TOO_LONG : ErrorCode.BAD_URL, message: isKey ? 'invalid key: not valid percent-encoded UTF-8 of at most 1024 bytes' : err.message })
    },
    clientErrorHandler,
    // Longer than nginx's upstream keepalive_timeout (2 s): an idle upstream socket is always
    // closed by nginx, never by us while nginx may be sending a request on it.
    keepAliveTimeout: config.KEEP_ALIVE_TIMEOUT_MS,
    // While closing, a request on an open connection is served (with `Connection: close`):
    // a 503 would make nginx retry only idempotent methods, and a POST would fail.
    return503OnClosing: false,
    // Whatever is still idle after the drain (server.ts) is closed; in-flight requests finish.
    forceCloseConnections: 'idle'
  }
}

/**
 * The api as a plugin (fastify/demo layout): external plugins first, then the
 * app's services, then routes. server.ts and the tests both register this.
 */
export default async function app(fastify: FastifyInstance, opts: { config: ApiConfig }): Promise<void> {
  const { config } = opts
  const api = fastify.withTypeProvider<TypeBoxTypeProvider>()
  // Known so that routes can answer it (the KV route's 405), rather than the router's 404.
  if (!fastify.supportedMethods.includes('TRACE')) fastify.addHttpMethod('TRACE')
  // A keep-alive socket whose request finishes after close() began would stay open until
  // keepAliveTimeout and stall shutdown past its deadline; tell those clients to reconnect.
  let closing = false
  api.addHook('preClose', async () => { closing = true })
  api.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('x-request-id', request.id)
    if (closing) void reply.header('connection', 'close')
    done(null, payload)
  })

  const https = Boolean(config.TLS_CERT && config.TLS_KEY)
  await api.register(errors)
  await api.register(securityHeaders, { https })
  await api.register(readiness)
  await api.register(metrics)
  await api.register(connectionLimits, {
    perIp: config.MAX_CONNECTIONS_PER_IP,
    total: config.MAX_CONNECTIONS ?? defaultMaxConnections(),
    isExempt: isTrustedProxy(trustedProxies(config.TRUST_PROXY))
  })
  await api.register(redis, { redisUrl: config.REDIS_URL })
  await api.register(departures, {
    maxWaitMs: config.SHUTDOWN_HANDOFF_MS,
    settleMs: config.SHUTDOWN_HANDOFF_SETTLE_MS,
    key: config.SHUTDOWN_HANDOFF_KEY,
    // Behind nginx a replica that is still needed sees requests every few milliseconds.
    idleMs: 3000
  })
  await api.register(rateLimit, { rps: config.RATE_LIMIT_RPS, redisPrefix: config.RATE_LIMIT_REDIS_PREFIX })
  // After the rate limit, so /docs and /docs/json are limited like any route.
  await api.register(swagger, { publicUrl: config.PUBLIC_URL, https })
  await api.register(db, { databaseUrl: config.DATABASE_URL })
  await api.register(broker, { url: config.AMQP_URL, prefix: config.AMQP_PREFIX })
  const replica = config.REPLICA_ID ?? hostname()
  await api.register(events, { enabled: config.EVENTS === 'on', replica, maxBuffered: config.EVENTS_PUBLISH_BUFFER, heartbeatMs: config.REPLICA_HEARTBEAT_MS })
  await api.register(outboxRelay, {
    databaseUrl: config.DATABASE_URL,
    pollMs: config.OUTBOX_POLL_MS,
    batchSize: config.OUTBOX_BATCH_SIZE,
    retentionHours: config.OUTBOX_RETENTION_HOURS
  })
  await api.register(kvStore, { config })
  await api.register(apiKeys, { cacheMs: config.API_KEY_CACHE_MS })
  await api.register(jobsService, {
    redisPrefix: config.JOBS_REDIS_PREFIX,
    ttlSeconds: config.JOB_STATUS_TTL_SECONDS,
    callbackAllowHosts: config.CALLBACK_ALLOW_HOSTS,
    rate: { perMinute: config.JOB_RATE_PER_MINUTE, emailPerHour: config.JOB_EMAIL_RATE_PER_HOUR },
    events: api.events,
    logQuotaBytes: config.JOB_LOG_QUOTA_BYTES,
    logMaxTotalBytes: config.JOB_LOG_MAX_TOTAL_BYTES,
    logTotalRefreshMs: config.JOB_LOG_TOTAL_REFRESH_MS
  })

  await api.register(sessions, {
    redisPrefix: config.SESSIONS_REDIS_PREFIX,
    ttlSeconds: config.SESSION_TTL_SECONDS,
    login: {
      maxConsecutiveFailures: config.LOGIN_MAX_CONSECUTIVE_FAILURES,
      maxFailuresPerIpPerDay: config.LOGIN_MAX_FAILURES_PER_IP,
      blockSeconds: config.LOGIN_BLOCK_SECONDS,
      alertAfterFailures: config.LOGIN_ALERT_AFTER_FAILURES
    }
  })

  await api.register(registrationLimits, {
    prefix: config.REGISTRATION_REDIS_PREFIX,
    signupsPerIpPerHour: config.REGISTER_RATE_PER_IP,
    perMailboxPerDay: config.WELCOME_MAILS_PER_MAILBOX_PER_DAY,
    perDomainPerMinute: config.WELCOME_MAILS_PER_DOMAIN_PER_MINUTE,
    perMinute: config.WELCOME_MAILS_PER_MINUTE,
    resendsPerHour: config.VERIFICATION_RESENDS_PER_HOUR
  })
  await api.register(unverifiedSweep, { days: config.UNVERIFIED_ACCOUNT_DAYS, intervalMs: config.UNVERIFIED_SWEEP_INTERVAL_MS })

  await api.register(imageStorage, { config })
  await api.register(admin, { amqpUrl: config.AMQP_URL, managementUrl: config.RABBITMQ_MANAGEMENT_URL })
  await api.register(eventStreams, {
    enabled: config.EVENTS === 'on',
    redisPrefix: config.EVENTS_REDIS_PREFIX,
    streamMaxLen: config.EVENTS_STREAM_MAX_LEN,
    perUser: config.EVENTS_STREAMS_PER_USER,
    perIp: config.EVENTS_STREAMS_PER_IP ?? Math.max(1, Math.ceil(config.EVENTS_MAX_STREAMS / 10)),
    perUnverified: config.EVENTS_STREAMS_UNVERIFIED,
    maxLifetimeMs: config.EVENTS_STREAM_MAX_LIFETIME_MS,
    maxStreams: config.EVENTS_MAX_STREAMS,
    clientBufferBytes: config.EVENTS_CLIENT_BUFFER_BYTES,
    heartbeatMs: config.EVENTS_HEARTBEAT_MS,
    replica
  })

  // Before the ops routes: `GET /` shows the console to a browser.
  await api.register(consoleFiles, { dir: config.CONSOLE_DIR ?? DEFAULT_CONSOLE_DIR, publicUrl: config.PUBLIC_URL })
  await api.register(opsRoutes, { metricsToken: config.METRICS_TOKEN })
  await api.register(kvRoutes, { maxValueBytes: config.KV_MAX_VALUE_BYTES, auth: config.KV_AUTH })
  await api.register(usersRoutes, {
    publicUrl: config.PUBLIC_URL,
    verificationTtlSeconds: config.EMAIL_VERIFICATION_TTL_SECONDS
  })
  await api.register(sessionsRoutes)
  await api.register(accountRoutes)
  await api.register(verificationRoutes, {
    publicUrl: config.PUBLIC_URL,
    verificationTtlSeconds: config.EMAIL_VERIFICATION_TTL_SECONDS
  })
  await api.register(imageRoutes, {
    publicUrl: config.PUBLIC_URL,
    uploadMaxBytes: config.UPLOAD_MAX_BYTES,
    shape: { maxPixels: config.IMAGE_MAX_PIXELS, maxSide: config.IMAGE_MAX_SIDE, maxAspect: config.IMAGE_MAX_ASPECT },
    timeoutSeconds: config.IMAGE_TIMEOUT_SECONDS,
    s3Redirect: config.IMAGE_S3_REDIRECT,
    spoolDir: config.UPLOAD_TMP_DIR ?? join(tmpdir(), `socialnet-uploads-${process.pid}`),
    ownSpoolDir: config.UPLOAD_TMP_DIR === undefined,
    encodeSlots: config.IMAGE_ENCODE_SLOTS ?? Math.max(1, Math.floor(availableParallelism() / 2)),
    smallSlots: config.IMAGE_SMALL_SLOTS,
    smallPixels: config.IMAGE_SMALL_PIXELS
  })
  await api.register(jobsRoutes)
  await api.register(jobShortcutRoutes)
  await api.register(adminQueueRoutes)
  await api.register(eventRoutes, { replica })
  await api.register(adminDlqRoutes)
  await api.register(adminMailRoutes)
  await api.register(adminSuppressionRoutes)
}
