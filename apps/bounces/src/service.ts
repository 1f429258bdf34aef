import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import type { Server } from 'node:http'
import { BrokerConnection, EventPublisher, NoEvents, startHeartbeat, type EventOutlet, type Heartbeat } from '@socialnet/broker'
import { openDatabase } from '@socialnet/db'
import { DeliveryAttempts, SuppressionList } from '@socialnet/sender'
import type { Logger } from 'pino'
import type { BouncesConfig } from './config'
import { BouncesMetrics } from './metrics'
import { serveOps } from './ops-server'
import { BounceReceiver, type ReceiverLimits } from './receiver/smtp-receiver'
import { ReportApplier } from './reports/report-applier'

/** A running bounce receiver with everything it opened; `close` releases all of it. */
export interface BouncesService {
  /** The SMTP port it listens on (BOUNCE_SMTP_PORT, or the one picked for 0). */
  smtpPort: number
  /** The ops port (OPS_PORT, or the one picked when a test asks for any), undefined when off. */
  opsPort: number | undefined
  metrics: BouncesMetrics
  /** Stops taking connections, lets open sessions finish (SHUTDOWN_GRACE_MS), then closes broker and Postgres. Idempotent. */
  close(): Promise<void>
}

/**
 * Opens every resource of the receiver in one place (Postgres for the
 * suppression list and delivery log, the broker connection for events, the
 * ops port, the SMTP port) and starts listening. Used by server.ts and the tests.
 */
export async function startBouncesService(config: BouncesConfig, log: Logger, limits: Partial<ReceiverLimits> = {}): Promise<BouncesService> {
  const replica = config.REPLICA_ID ?? hostname()
  const db = await openDatabase(config.DATABASE_URL, log, 5)
  const metrics = new BouncesMetrics(config.OPS_PORT > 0)
  let connection: BrokerConnection | undefined
  let events: EventOutlet = new NoEvents()
  if (config.EVENTS === 'on') {
    connection = new BrokerConnection({
      url: config.AMQP_URL,
      name: `bounces@${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
      prefix: config.AMQP_PREFIX,
      // The bounces broker user may publish mail.* events and nothing else.
      ownsTopology: false,
      log
    })
    events = new EventPublisher(connection, { service: 'bounces', replica, onDropped: (n) => metrics.dropEvents(n) })
  }
  const applier = new ReportApplier({
    suppressions: new SuppressionList(db),
    attempts: new DeliveryAttempts(db),
    events,
    metrics,
    log,
    replica
  })
  const receiver = new BounceReceiver({
    verp: { local: config.BOUNCE_LOCAL, domain: config.BOUNCE_DOMAIN, secret: config.BOUNCE_SECRET },
    handle: (messageIds, raw) => applier.apply(messageIds, raw),
    onRefused: (reason) => metrics.countRefused(reason),
    log,
    limits: { closeTimeoutMs: config.SHUTDOWN_GRACE_MS, ...limits }
  })
  let opsServer: Server | undefined
  let heartbeat: Heartbeat | undefined
  let closing: Promise<void> | undefined
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      heartbeat?.stop()
      await receiver.close()
      await events.close()
      await connection?.close()
      await db.end()
      if (opsServer) await new Promise((resolve) => opsServer!.close(resolve))
      log.info({}, 'bounce receiver stopped')
    })())
  try {
    if (config.OPS_PORT > 0) {
      opsServer = await serveOps({
        registry: metrics.registry,
        ready: async () => receiver.isListening && (await db.query('SELECT 1').then(() => true, () => false))
      }, config.OPS_PORT)
    }
    if (connection) void connection.connect().catch(() => {})
    const smtpPort = await receiver.listen(config.BOUNCE_SMTP_PORT, config.BOUNCE_SMTP_HOST)
    log.info({ smtpPort, domain: config.BOUNCE_DOMAIN, events: config.EVENTS }, 'bounce receiver started')
    heartbeat = startHeartbeat(events, { intervalMs: config.REPLICA_HEARTBEAT_MS })
    const address = opsServer?.address()
    return { smtpPort, opsPort: typeof address === 'object' && address ? address.port : undefined, metrics, close }
  } catch (err) {
    await close()
    throw err
  }
}
