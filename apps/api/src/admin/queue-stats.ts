import type { BrokerConnection, WorkQueue } from '@socialnet/broker'
import { WORK_QUEUES } from '@socialnet/broker'

/** One work queue as an operator sees it. `null` = not known right now (broker down, no management API). */
export interface QueueStats {
  /** Short name: `mail`, `jobs`, `thumbnails`. */
  name: WorkQueue
  /** Full queue name (with the deployment's prefix). */
  queue: string
  ready: number | null
  /** Delivered to a consumer and not yet acknowledged; needs the management API (RABBITMQ_MANAGEMENT_URL). */
  unacked: number | null
  consumers: number | null
  /** Messages waiting in `<queue>.dlq`. */
  dlq: number | null
}

/**
 * Where the unacked counts came from: the management API, or why they are `null`
 * (RABBITMQ_MANAGEMENT_URL unset, or set and not answering), so a page can say so.
 */
export type UnackedSource = 'management_api' | 'not_configured' | 'unreachable'

/** One reading of every work queue. */
export interface QueueReading {
  queues: QueueStats[]
  unackedSource: UnackedSource
}

export interface QueueStatsOptions {
  connection: BrokerConnection
  /** RabbitMQ's management API (`http://user:pass@host:15672`), for unacked counts; optional. */
  managementUrl?: string
  /** AMQP URL: its vhost is the one the management API is asked about. */
  amqpUrl: string
  /** Answers younger than this are shared: an admin stream per browser tab costs one read per second in all. */
  maxAgeMs?: number
}

/**
 * Reads queue depths and consumer counts. Ready, consumers and the DLQ depth
 * come from a passive declare over AMQP: live, and needing nothing but the
 * connection the api already has. Unacked counts exist only in the management
 * API (which refreshes them every few seconds), so they are read from there
 * when it is configured and reported as `null` otherwise.
 */
export class QueueStatsReader {
  private last?: { at: number; stats: Promise<QueueReading> }
  private readonly maxAgeMs: number

  constructor(private readonly opts: QueueStatsOptions) {
    this.maxAgeMs = opts.maxAgeMs ?? 900
  }

  /** Stats of every work queue; never throws (unknown values are `null`). */
  read(): Promise<QueueReading> {
    const now = Date.now()
    if (this.last && now - this.last.at < this.maxAgeMs) return this.last.stats
    const stats = this.readNow()
    this.last = { at: now, stats }
    return stats
  }

  private async readNow(): Promise<QueueReading> {
    const [amqp, { unacked, source }] = await Promise.all([this.readOverAmqp(), this.readUnacked()])
    const queues = WORK_QUEUES.map((name) => {
      const names = this.opts.connection.topology.queues[name]
      const work = amqp.get(names.name)
      return {
        name,
        queue: names.name,
        ready: work?.messageCount ?? null,
        unacked: unacked.get(names.name) ?? null,
        consumers: work?.consumerCount ?? null,
        dlq: amqp.get(names.dlq)?.messageCount ?? null
      }
    })
    return { queues, unackedSource: source }
  }

  private async readOverAmqp(): Promise<Map<string, { messageCount: number; consumerCount: number }>> {
    const found = new Map<string, { messageCount: number; consumerCount: number }>()
    if (!this.opts.connection.isConnected) return found
    const names = WORK_QUEUES.flatMap((q) => [this.opts.connection.topology.queues[q].name, this.opts.connection.topology.queues[q].dlq])
    let channel: Awaited<ReturnType<BrokerConnection['createChannel']>> | undefined
    try {
      for (const name of names) {
        // A passive declare of a missing queue closes the channel (404): open a new one for the rest.
        channel ??= await this.openChannel()
        try {
          const { messageCount, consumerCount } = await channel.checkQueue(name)
          found.set(name, { messageCount, consumerCount })
        } catch {
          channel = undefined
        }
      }
    } catch {
      // Disconnected while reading: what was read is reported, the rest is null.
    } finally {
      await channel?.close().catch(() => {})
    }
    return found
  }

  private async openChannel() {
    const channel = await this.opts.connection.createChannel()
    channel.on('error', () => {})
    return channel
  }

  private async readUnacked(): Promise<{ unacked: Map<string, number>; source: UnackedSource }> {
    const found = new Map<string, number>()
    if (!this.opts.managementUrl) return { unacked: found, source: 'not_configured' }
    try {
      const base = new URL(this.opts.managementUrl)
      const amqp = new URL(this.opts.amqpUrl)
      const user = decodeURIComponent(base.username || amqp.username || 'guest')
      const pass = decodeURIComponent(base.password || amqp.password || 'guest')
      const vhost = encodeURIComponent(decodeURIComponent(amqp.pathname.slice(1)) || '/')
      const url = new URL(`/api/queues/${vhost}?columns=name,messages_unacknowledged`, base.origin)
      const res = await fetch(url, {
        headers: { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` },
        signal: AbortSignal.timeout(2000)
      })
      if (!res.ok) return { unacked: found, source: 'unreachable' }
      const rows = await res.json() as { name: string; messages_unacknowledged?: number }[]
      for (const row of rows) {
        if (typeof row.messages_unacknowledged === 'number') found.set(row.name, row.messages_unacknowledged)
      }
    } catch {
      // The management API is optional: unacked stays null.
      return { unacked: found, source: 'unreachable' }
    }
    return { unacked: found, source: 'management_api' }
  }
}
