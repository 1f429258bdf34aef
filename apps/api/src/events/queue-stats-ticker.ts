import type { FastifyBaseLogger } from 'fastify'
import type { QueueReading } from '../admin/queue-stats'
import type { ReplicaSeen } from './event-store'
import type { SseStream } from './sse-stream'

/** Options of the queue.stats ticker. */
export interface QueueStatsTickerOptions {
  /** The admin streams; the live set, read at every tick. */
  streams: ReadonlySet<SseStream>
  read: () => Promise<QueueReading & { replicas: ReplicaSeen[] }>
  replica: string
  log: FastifyBaseLogger
}

/**
 * Sends `queue.stats` to every admin stream once a second: one read per
 * tick for all of them (and none while no admin watches). A tick that
 * cannot read (broker away) is skipped rather than sent half empty.
 */
export function startQueueStatsTicker(opts: QueueStatsTickerOptions): { stop(): void } {
  let busy = false
  const tick = async (): Promise<void> => {
    if (busy || opts.streams.size === 0) return
    busy = true
    try {
      const { queues, unackedSource, replicas } = await opts.read()
      const json = JSON.stringify({
        type: 'queue.stats',
        at: new Date().toISOString(),
        service: 'api',
        replica: opts.replica,
        subject: 'queues',
        data: { queues: queues.map(({ name, ready, unacked, consumers, dlq }) => ({ name, ready, unacked, consumers, dlq })), unackedSource, replicas }
      })
      for (const stream of opts.streams) stream.send('queue.stats', json)
    } catch (err) {
      opts.log.debug({ err }, 'events: queue stats unavailable this second')
    } finally {
      busy = false
    }
  }
  const timer = setInterval(() => void tick(), 1000)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}
