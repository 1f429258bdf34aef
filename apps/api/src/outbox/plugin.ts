import fp from 'fastify-plugin'
import { Counter, Gauge } from 'prom-client'
import type { MessageType } from '@socialnet/contracts'
import { USER_ID_HEADER, type EventInput } from '@socialnet/broker'
import { OutboxRelay, type PublishedRow } from './relay'

/** What the event is about: the mail, or the job or image the message carries. */
function outboxPublishedEvent(row: PublishedRow, batchSize: number): EventInput {
  const payload = row.payload as { jobId?: string; imageId?: string }
  const subject = row.type.startsWith('image.') && payload.imageId
    ? `image:${payload.imageId}`
    : row.type.startsWith('job.') && payload.jobId
      ? `job:${payload.jobId}`
      : `mail:${row.messageId}`
  return {
    subject,
    ...(row.userId ? { userId: row.userId } : {}),
    data: { messageId: row.messageId, messageType: row.type, waitedMs: row.waitedMs, batchSize }
  }
}

export interface OutboxPluginOptions {
  databaseUrl: string
  pollMs: number
  batchSize: number
  retentionHours: number
}

/**
 * Runs this process's outbox relay: started once the app is ready, woken by
 * the broker's reconnects, stopped in onClose (before the broker plugin closes
 * the connection, since plugins close in reverse order).
 */
export default fp(async function outboxRelay(fastify, opts: OutboxPluginOptions) {
  const { registry } = fastify.metrics
  const published = new Counter({ name: 'outbox_published_total', help: 'Outbox messages confirmed by the broker', registers: [registry] })
  const failed = new Counter({ name: 'outbox_publish_failures_total', help: 'Outbox publish attempts that failed (retried later)', registers: [registry] })
  const pool = fastify.db
  // Registered by its constructor; read only through the registry.
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'outbox_unpublished',
    help: 'Outbox messages not yet published (grows while RabbitMQ is down)',
    registers: [registry],
    async collect() {
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM outbox WHERE published_at IS NULL')
      this.set(Number(rows[0]!.n))
    }
  })

  const { connection, publisher } = fastify.broker
  const relay = new OutboxRelay({
    pool,
    databaseUrl: opts.databaseUrl,
    publisher: {
      // The row's type and payload were checked against the contracts when enqueued;
      // the publisher checks again, and a failure there stays on the row as last_error.
      publish: ({ userId, ...m }) => publisher.publish({
        ...m, type: m.type as MessageType, payload: m.payload as never, headers: userId ? { [USER_ID_HEADER]: userId } : undefined
      })
    },
    isBrokerConnected: () => connection.isConnected,
    log: fastify.log.child({ component: 'outbox' }),
    pollMs: opts.pollMs,
    batchSize: opts.batchSize,
    retentionMs: opts.retentionHours * 3600 * 1000,
    observer: {
      onPublished(rows, batchSize) {
        published.inc(rows.length)
        for (const row of rows) fastify.events.emit('outbox.published', outboxPublishedEvent(row, batchSize))
      },
      onFailed: (n) => failed.inc(n)
    }
  })
  const onConnected = (): void => relay.brokerConnected()
  connection.on('connected', onConnected)
  fastify.addHook('onReady', async () => { await relay.start() })
  fastify.addHook('onClose', async () => {
    connection.off('connected', onConnected)
    await relay.stop()
  })
}, { name: 'outbox-relay', dependencies: ['db', 'broker', 'metrics', 'events'] })
