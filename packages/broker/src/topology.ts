import type { Channel } from 'amqplib'
import { DEFAULT_RETRY_DELAYS_MS } from './config'

/** The work queues, by their short name; the full name adds the prefix and `socialnet.`. */
export const WORK_QUEUES = ['mail', 'jobs', 'thumbnails'] as const
/** Short name of a work queue. */
export type WorkQueue = (typeof WORK_QUEUES)[number]

/**
 * Which message types each work queue receives: the exchange is a topic
 * exchange and the routing key of a message is its type (`mail.welcome.v1`),
 * so a new message version needs no new binding.
 */
export const QUEUE_BINDINGS: Record<WorkQueue, string[]> = {
  mail: ['mail.#'],
  jobs: ['job.#'],
  thumbnails: ['image.#']
}

/**
 * Quorum queues redeliver a message at most this many times after a consumer
 * died holding it, then dead-letter it. It catches the poison message that
 * crashes the process before any handler code can decide about it.
 */
export const DELIVERY_LIMIT = 20

/** Names of one work queue and its satellites. */
export interface QueueNames {
  name: string
  dlq: string
  /** One queue per delay, each with a fixed TTL, dead-lettering back to `name`. */
  retries: { delayMs: number; name: string }[]
}

/** All names of one deployment (or one test, through the prefix). */
export interface Topology {
  prefix: string
  exchange: string
  /** Where the work queues dead-letter by themselves (delivery limit exceeded, rejected). */
  deadLetterExchange: string
  queues: Record<WorkQueue, QueueNames>
}

/** Options for naming the topology. */
export interface TopologyOptions {
  prefix?: string
  retryDelaysMs?: number[]
}

/** Computes every name once; pass the result around rather than building names ad hoc. */
export function topology(options: TopologyOptions | string = {}): Topology {
  const { prefix = '', retryDelaysMs = DEFAULT_RETRY_DELAYS_MS } = typeof options === 'string' ? { prefix: options } : options
  const base = `${prefix}socialnet`
  const queue = (short: WorkQueue): QueueNames => {
    const name = `${base}.${short}`
    return {
      name,
      dlq: `${name}.dlq`,
      // The delay is part of the name: services configured with different
      // delays declare different queues instead of failing on mismatched TTLs.
      retries: retryDelaysMs.map((delayMs) => ({ delayMs, name: `${name}.retry.${delayMs}ms` }))
    }
  }
  return {
    prefix,
    exchange: base,
    deadLetterExchange: `${base}.dlx`,
    queues: { mail: queue('mail'), jobs: queue('jobs'), thumbnails: queue('thumbnails') }
  }
}

/**
 * Declares the whole topology, idempotently (same arguments every time).
 *
 * Queues are quorum queues: replicated and fsynced before confirming when
 * the broker is clustered, and they support a delivery limit (see
 * DELIVERY_LIMIT). Retry queues dead-letter with the at-least-once strategy
 * so a message moving back to its work queue cannot be dropped in transit.
 * One queue per delay keeps expiry in FIFO order: a single queue with
 * per-message TTLs would hold a short-delay message behind a long one.
 */
export async function declareTopology(channel: Channel, options: Topology | TopologyOptions | string = {}): Promise<Topology> {
  const names = isTopology(options) ? options : topology(options)
  await channel.assertExchange(names.exchange, 'topic', { durable: true })
  await channel.assertExchange(names.deadLetterExchange, 'direct', { durable: true })
  for (const short of WORK_QUEUES) {
    const q = names.queues[short]
    await channel.assertQueue(q.dlq, { durable: true, arguments: { 'x-queue-type': 'quorum' } })
    await channel.bindQueue(q.dlq, names.deadLetterExchange, q.name)
    await channel.assertQueue(q.name, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-delivery-limit': DELIVERY_LIMIT,
        'x-dead-letter-exchange': names.deadLetterExchange,
        'x-dead-letter-routing-key': q.name,
        'x-dead-letter-strategy': 'at-least-once',
        'x-overflow': 'reject-publish'
      }
    })
    for (const key of QUEUE_BINDINGS[short]) await channel.bindQueue(q.name, names.exchange, key)
    for (const retry of q.retries) {
      await channel.assertQueue(retry.name, {
        durable: true,
        arguments: {
          'x-queue-type': 'quorum',
          'x-message-ttl': retry.delayMs,
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': q.name,
          'x-dead-letter-strategy': 'at-least-once',
          'x-overflow': 'reject-publish'
        }
      })
    }
  }
  return names
}

/**
 * Deletes every queue and exchange of a topology. For tests cleaning up
 * their random prefix; never called by the services.
 */
export async function deleteTopology(channel: Channel, names: Topology): Promise<void> {
  for (const short of WORK_QUEUES) {
    const q = names.queues[short]
    for (const name of [q.name, q.dlq, ...q.retries.map((r) => r.name)]) await channel.deleteQueue(name)
  }
  await channel.deleteExchange(names.exchange)
  await channel.deleteExchange(names.deadLetterExchange)
}

function isTopology(value: unknown): value is Topology {
  return typeof value === 'object' && value !== null && 'queues' in value && 'exchange' in value
}
