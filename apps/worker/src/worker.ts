import { hostname } from 'node:os'
import Redis from 'ioredis'
import type { Logger } from 'pino'
import { BrokerConnection, Consumer, EventPublisher, NoEvents, Publisher, launcherOfThisProcess, startHeartbeat, type EventOutlet, type Heartbeat } from '@socialnet/broker'
import { openDatabase } from '@socialnet/db'
import { JobStatusStore, parseAllowHosts, type HostResolver } from '@socialnet/jobs'
import type { WorkerConfig } from './config'
import { WebhookSigner, generateCallbackSecret } from './callback/webhook-signer'
import { QUEUES } from './handlers/registry'
import type { WorkerDeps } from './handlers/queue-registration'
import { createStorage } from '@socialnet/storage'
import { startImageSweeper, type ImageSweeper } from './images/sweeper'
import { startJobLogRetention, type JobLogRetention } from './job-log/retention'

/** A running worker: its consumers and the one stop that releases everything. */
export interface Worker {
  connection: BrokerConnection
  consumers: Consumer[]
  /** Removes the files of replaced avatars and abandoned uploads. */
  sweeper: ImageSweeper
  /** Deletes `log` job data older than JOB_LOG_RETENTION_DAYS. */
  jobLogRetention: JobLogRetention
  /** The worker's events (docs/events.md); NoEvents with EVENTS=off. */
  events: EventOutlet
  /** Stops taking messages, waits up to `graceMs` for those in hand, then closes every resource. Idempotent. */
  stop(graceMs: number): Promise<void>
}

/**
 * Opens every resource once (Postgres, Redis, one AMQP connection with one
 * publisher) and starts one Consumer per registered queue. Resolves once
 * consuming; while RabbitMQ is down it keeps waiting (the connection retries).
 * `options.resolve` replaces the system DNS resolver for callbacks (tests).
 */
export async function startWorker(config: WorkerConfig, log: Logger, options: { resolve?: HostResolver } = {}): Promise<Worker> {
  const db = await openDatabase(config.DATABASE_URL, log)
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3, connectTimeout: 5000 })
  redis.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'))
  const connection = new BrokerConnection({
    url: config.AMQP_URL,
    prefix: config.AMQP_PREFIX,
    retryDelaysMs: config.retryDelaysMs,
    name: `worker@${hostname()}:${process.pid}`,
    // The worker's broker user may touch its own queues only (each Consumer declares
    // its family) and publish mail.send.v1 on the api's routing (email jobs).
    ownsTopology: false,
    // Its consumers warn of another copy's workers on the same queues (another npm start).
    launcher: launcherOfThisProcess(),
    log: log.child({ component: 'broker' })
  })
  const publisher = new Publisher(connection)
  const events: EventOutlet = config.EVENTS === 'off'
    ? new NoEvents()
    : new EventPublisher(connection, { service: 'worker', replica: config.REPLICA_ID ?? hostname(), onDropped: droppedEventsLog(log) })
  const storage = createStorage(config)

  let secrets = config.callbackSecrets
  if (secrets.length === 0) {
    // Development only (config refuses this in production): callbacks still
    // go out signed, but no receiver can know this secret.
    secrets = [generateCallbackSecret()]
    log.warn('CALLBACK_SECRET is not set: callbacks are signed with a random secret and cannot be verified')
  }
  const deps: WorkerDeps = {
    config,
    log,
    db,
    redis,
    // Every status the worker writes is reported from the store (job.status events).
    store: new JobStatusStore(redis, { prefix: config.JOBS_REDIS_PREFIX, ttlSeconds: config.JOB_STATUS_TTL_SECONDS, events }),
    publisher,
    events,
    callback: {
      signer: new WebhookSigner(secrets),
      timeoutMs: config.CALLBACK_TIMEOUT_MS,
      retryAfterMaxMs: config.CALLBACK_RETRY_AFTER_MAX_MS,
      maxResponseBytes: config.CALLBACK_MAX_RESPONSE_BYTES,
      allowHosts: parseAllowHosts(config.CALLBACK_ALLOW_HOSTS),
      resolve: options.resolve
    },
    storage
  }
  const consumers = QUEUES.map((register) => new Consumer(connection, register(deps)))
  const sweeper = startImageSweeper(db, storage, log.child({ component: 'image-sweeper' }), config.IMAGE_SWEEP_INTERVAL_MS, {
    replacedGraceSeconds: config.IMAGE_REPLACED_GRACE_SECONDS,
    abandonedAfterSeconds: config.IMAGE_ABANDONED_AFTER_SECONDS,
    batchSize: 50
  })
  const jobLogRetention = startJobLogRetention(db, log.child({ component: 'job-log-retention' }), {
    retentionDays: config.JOB_LOG_RETENTION_DAYS,
    intervalMs: config.JOB_LOG_SWEEP_INTERVAL_MS,
    batchSize: 1000
  })

  let heartbeat: Heartbeat | undefined
  let stopped: Promise<void> | undefined
  const stop = (graceMs: number): Promise<void> => {
    stopped ??= (async () => {
      // Said first: the replica leaves the console's list as it stops taking work.
      heartbeat?.stop()
      // Consumers first (their handlers may still publish), then the
      // publisher drains its confirms, then connections close.
      await Promise.all([...consumers.map((c) => c.stop(graceMs)), sweeper.stop(), jobLogRetention.stop()])
      await events.close()
      await publisher.close()
      await connection.close()
      await redis.quit().catch(() => redis.disconnect())
      await storage.close()
      await db.end()
    })()
    return stopped
  }

  connection.connect().catch(() => {})
  try {
    await Promise.all(consumers.map((c) => c.start()))
  } catch (err) {
    await stop(0)
    throw err
  }
  // Jobs and thumbnails together: the messages this replica finished.
  heartbeat = startHeartbeat(events, { intervalMs: config.REPLICA_HEARTBEAT_MS, handled: () => consumers.reduce((sum, c) => sum + c.handled, 0) })
  log.info({ queues: consumers.length, events: config.EVENTS }, 'worker consuming')
  return { connection, consumers, sweeper, jobLogRetention, events, stop }
}

/**
 * The worker serves no metrics, so dropped events are reported in the log:
 * at most one line a minute, with the count since the last one.
 */
function droppedEventsLog(log: Logger): (count: number) => void {
  let pending = 0
  let timer: NodeJS.Timeout | undefined
  return (count) => {
    pending += count
    timer ??= setTimeout(() => {
      log.warn({ dropped: pending }, 'events dropped (broker unreachable or buffer full)')
      pending = 0
      timer = undefined
    }, 60_000).unref()
  }
}
