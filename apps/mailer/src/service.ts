import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import type { Server } from 'node:http'
import { BrokerConnection, EventPublisher, NoEvents, launcherOfThisProcess, startHeartbeat, type EventOutlet, type Heartbeat } from '@socialnet/broker'
import { openDatabase } from '@socialnet/db'
import { Redis } from 'ioredis'
import { DeliveryAttempts, SuppressionList } from '@socialnet/sender'
import type { Logger } from 'pino'
import { AttemptLog } from './attempt-log'
import type { MailerConfig } from './config'
import { DeliveryLog } from './deliveries'
import { Mailer } from './mailer'
import { MailerMetrics, serveMetrics } from './metrics'
import { DomainPace } from './pace'
import { createSmtpTransport } from './smtp'
import { SuppressionCheck } from './suppression-check'

/** A running mailer with everything it opened; `close` releases all of it. */
export interface MailerService {
  mailer: Mailer
  connection: BrokerConnection
  metrics: MailerMetrics
  /** Publishes the mailer's events (docs/events.md); never holds up a mail. NoEvents with EVENTS=off. */
  events: EventOutlet
  /** Stops consuming, lets in-flight mails finish (up to graceMs), then closes SMTP, broker, Redis and Postgres. Idempotent. */
  close(graceMs: number): Promise<void>
}

/** What only the benchmark changes: its baseline runs the mailer without the suppression check, to measure what the check costs. */
export interface MailerServiceOptions {
  checkSuppressions?: boolean
}

/**
 * Opens every resource of the mailer in one place (Postgres for the
 * delivery log, the SMTP pool, the broker connection, Redis for the domain
 * pace when any domain is paced, the metrics port)
 * and starts consuming. Used by server.ts, the tests and the benchmark.
 */
export async function startMailerService(config: MailerConfig, log: Logger, options: MailerServiceOptions = {}): Promise<MailerService> {
  const db = await openDatabase(config.DATABASE_URL, log, Math.max(2, Math.min(config.MAIL_PREFETCH, 20)))
  const transport = createSmtpTransport({
    url: config.SMTP_URL,
    from: config.MAIL_FROM,
    maxConnections: Math.min(config.MAIL_SMTP_POOL, config.MAIL_PREFETCH),
    timeoutMs: config.MAIL_SEND_TIMEOUT_MS,
    dkim: config.dkim
  })
  const connection = new BrokerConnection({
    url: config.AMQP_URL,
    name: `mailer@${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    prefix: config.AMQP_PREFIX,
    retryDelaysMs: config.retryDelaysMs,
    // The mailer's broker user may touch the mail queues only; its Consumer declares them.
    ownsTopology: false,
    // Its consumer warns of another copy's mailers on the same queue (another npm start).
    launcher: launcherOfThisProcess(),
    log
  })
  const metrics = new MailerMetrics(config.MAILER_METRICS_PORT > 0)
  const replica = config.REPLICA_ID ?? hostname()
  const events: EventOutlet = config.EVENTS === 'off'
    ? new NoEvents()
    : new EventPublisher(connection, { service: 'mailer', replica, onDropped: (n) => metrics.dropEvents(n) })
  const deliveries = new DeliveryLog(db, 2 * config.MAIL_SEND_TIMEOUT_MS)
  const paced = config.MAIL_DOMAIN_RATE_PER_MINUTE > 0 || [...config.domainRates.values()].some((rate) => rate > 0)
  // No offline queue and a command timeout: with Redis away a pace check fails at once (and
  // falls back to a per-replica bucket) instead of holding the mail until Redis is back.
  const redis = paced ? new Redis(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000, connectTimeout: 5000 }) : undefined
  redis?.on('error', (err: Error) => log.warn({ err }, 'redis error (domain pace)'))
  const pace = redis && new DomainPace({
    redis,
    keyPrefix: config.AMQP_PREFIX,
    ratePerMinute: config.MAIL_DOMAIN_RATE_PER_MINUTE,
    rates: config.domainRates,
    log,
    metrics
  })
  const suppressionList = new SuppressionList(db)
  const deliveryAttempts = new DeliveryAttempts(db)
  const mailer = new Mailer({
    connection,
    transport,
    deliveries,
    suppressions: new SuppressionCheck(suppressionList, options.checkSuppressions ?? true),
    attempts: new AttemptLog(deliveryAttempts, replica, log),
    metrics,
    pace,
    events,
    log,
    publicUrl: config.PUBLIC_URL,
    prefetch: config.MAIL_PREFETCH,
    maxAttempts: config.MAIL_MAX_ATTEMPTS,
    sendTimeoutMs: config.MAIL_SEND_TIMEOUT_MS,
    verp: config.verp
  })
  let metricsServer: Server | undefined
  let heartbeat: Heartbeat | undefined
  let closing: Promise<void> | undefined
  // Hourly, and once at start: every replica prunes; the DELETEs are idempotent.
  const logRetentionMs = config.MAIL_LOG_RETENTION_DAYS * 86_400_000
  const prune = (): void => {
    const each = (what: string, run: () => Promise<number>): void => {
      run().then(
        (removed) => removed > 0 && log.info({ removed }, `pruned old ${what}`),
        (err: unknown) => log.warn({ err }, `could not prune ${what}`)
      )
    }
    each('delivery records', () => deliveries.prune(config.MAIL_DEDUPE_RETENTION_HOURS * 3_600_000))
    each('delivery log rows', () => deliveryAttempts.prune(logRetentionMs))
    each('bounce history', () => suppressionList.pruneBounces(logRetentionMs))
  }
  const pruning = setInterval(prune, 3_600_000).unref()
  const close = (graceMs: number): Promise<void> =>
    (closing ??= (async () => {
      clearInterval(pruning)
      // Said first: the replica leaves the console's list as it stops taking mail.
      heartbeat?.stop()
      await mailer.stop(graceMs)
      transport.close()
      await events.close()
      await connection.close()
      await redis?.quit().catch(() => redis.disconnect())
      await db.end()
      if (metricsServer) await new Promise((resolve) => metricsServer!.close(resolve))
      log.info({}, 'mailer stopped')
    })())
  try {
    if (config.MAILER_METRICS_PORT > 0) metricsServer = await serveMetrics(metrics, config.MAILER_METRICS_PORT)
    prune()
    void connection.connect().catch(() => {})
    await mailer.start()
    heartbeat = startHeartbeat(events, { intervalMs: config.REPLICA_HEARTBEAT_MS, handled: () => mailer.handled })
  } catch (err) {
    await close(0)
    throw err
  }
  log.info({ queue: connection.topology.queues.mail.name, prefetch: config.MAIL_PREFETCH, events: config.EVENTS }, 'mailer started')
  return { mailer, connection, metrics, events, close }
}
