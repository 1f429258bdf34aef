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

/** Names of one work queue and its satellites: a queue family, which one consumer owns. */
export interface QueueNames {
  name: string
  dlq: string
  /**
   * Direct exchange of this family alone, `<work queue>.dlx`: every move
   * between the work queue, its retry queues and its dlq goes through it,
   * with the target queue's name as routing key. Because it is per family,
   * a broker user can be allowed to write to it (and so to declare and
   * republish within its family) without being able to reach any other
   * queue; the default exchange would reach them all.
   */
  deadLetterExchange: string
  /** One queue per delay, each with a fixed TTL, dead-lettering back to `name`. */
  retries: { delayMs: number; name: string }[]
}

/**
 * Most events the shared events queue holds; past it the oldest are dropped
 * (events are disposable: a live view wants the newest). Fixed here, not
 * configured, because every api replica declares the queue with the same
 * arguments and RabbitMQ refuses a declaration whose arguments differ.
 */
export const EVENTS_QUEUE_MAX_LENGTH = 10_000
/** Events older than this are not worth collecting any more (the replay window). */
export const EVENTS_QUEUE_TTL_MS = 10 * 60_000

/** Names of the event stream's broker side (see docs/events.md). */
export interface EventNames {
  /** Topic exchange every service publishes its events to; the routing key is `batch.<service>` (or, from older publishers, the event type). */
  exchange: string
  /** The one queue the api replicas share to collect events: single active consumer, so one replica collects at a time. */
  queue: string
  /**
   * The collector queue of versions before the single active consumer (competing consumers). Its
   * arguments cannot change in place (PRECONDITION_FAILED), so `queue` has a new name and this
   * one is deleted when the api declares its topology.
   */
  legacyQueue: string
}

/** All names of one deployment (or one test, through the prefix). */
export interface Topology {
  prefix: string
  /** The topic exchange publishers send to; the api binds each work queue to it. */
  exchange: string
  queues: Record<WorkQueue, QueueNames>
  events: EventNames
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
      deadLetterExchange: `${name}.dlx`,
      // The delay is part of the name: services configured with different
      // delays declare different queues instead of failing on mismatched TTLs.
      retries: retryDelaysMs.map((delayMs) => ({ delayMs, name: `${name}.retry.${delayMs}ms` }))
    }
  }
  return {
    prefix,
    exchange: base,
    queues: { mail: queue('mail'), jobs: queue('jobs'), thumbnails: queue('thumbnails') },
    events: { exchange: `${base}.events`, queue: `${base}.events.collector.sac`, legacyQueue: `${base}.events.collector` }
  }
}

/**
 * Declares the whole topology, idempotently (same arguments every time):
 * every queue family, the topic exchange, and the bindings that route each
 * message type to its work queue. The publisher (the api) does this, so a
 * message is routed even before its consumer ever started; its broker user
 * may touch every socialnet name. Consumers declare only their own family
 * (declareQueueFamily), which is all their broker user may touch.
 */
export async function declareTopology(channel: Channel, options: Topology | TopologyOptions | string = {}): Promise<Topology> {
  const names = isTopology(options) ? options : topology(options)
  for (const short of WORK_QUEUES) await declareQueueFamily(channel, names.queues[short])
  await channel.assertExchange(names.exchange, 'topic', { durable: true })
  for (const short of WORK_QUEUES) {
    for (const key of QUEUE_BINDINGS[short]) await channel.bindQueue(names.queues[short].name, names.exchange, key)
  }
  await declareEventsExchange(channel, names.events)
  await channel.assertQueue(names.events.queue, {
    durable: true,
    arguments: {
      'x-queue-type': 'classic',
      'x-max-length': EVENTS_QUEUE_MAX_LENGTH,
      'x-overflow': 'drop-head',
      'x-message-ttl': EVENTS_QUEUE_TTL_MS,
      // One replica collects at a time, in the queue's order (each subject's events in the order
      // emitted); when its channel goes, the broker hands the queue to the next replica's consumer.
      'x-single-active-consumer': true
    }
  })
  await channel.bindQueue(names.events.queue, names.events.exchange, '#')
  // An upgrade: the competing-consumers queue of the previous version goes (deleting a queue that
  // is not there is no error). Replicas of that version still running stop collecting; this
  // version's replicas collect everything from the new queue meanwhile, so nothing is stored twice.
  await channel.deleteQueue(names.events.legacyQueue)
  return names
}

/**
 * Declares the events exchange, idempotently; part of the api's topology.
 * Other services only check it exists before they publish events to it.
 */
async function declareEventsExchange(channel: Channel, events: EventNames): Promise<void> {
  await channel.assertExchange(events.exchange, 'topic', { durable: true })
}

/**
 * Declares one work queue, its retry queues, its dlq and the family's own
 * dead-letter exchange, idempotently. It names nothing outside the family,
 * so a broker user confined to `<work queue>(.*)` can run it: declaring a
 * queue whose dead-letter exchange is X needs write on X, which is why the
 * family has its own exchange instead of the default one.
 *
 * Queues are quorum queues: replicated and fsynced before confirming when
 * the broker is clustered, and they support a delivery limit (see
 * DELIVERY_LIMIT). Work and retry queues dead-letter with the at-least-once
 * strategy so a message moving between them cannot be dropped in transit.
 * One queue per delay keeps expiry in FIFO order: a single queue with
 * per-message TTLs would hold a short-delay message behind a long one.
 */
export async function declareQueueFamily(channel: Channel, q: QueueNames): Promise<void> {
  const dlx = q.deadLetterExchange
  await channel.assertExchange(dlx, 'direct', { durable: true })
  await channel.assertQueue(q.dlq, { durable: true, arguments: { 'x-queue-type': 'quorum' } })
  await channel.bindQueue(q.dlq, dlx, q.dlq)
  await channel.assertQueue(q.name, {
    durable: true,
    arguments: {
      'x-queue-type': 'quorum',
      'x-delivery-limit': DELIVERY_LIMIT,
      'x-dead-letter-exchange': dlx,
      'x-dead-letter-routing-key': q.dlq,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish'
    }
  })
  await channel.bindQueue(q.name, dlx, q.name)
  for (const retry of q.retries) {
    await channel.assertQueue(retry.name, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-message-ttl': retry.delayMs,
        'x-dead-letter-exchange': dlx,
        'x-dead-letter-routing-key': q.name,
        'x-dead-letter-strategy': 'at-least-once',
        'x-overflow': 'reject-publish'
      }
    })
    await channel.bindQueue(retry.name, dlx, retry.name)
  }
}

/**
 * Deletes every queue and exchange of a topology. For tests cleaning up
 * their random prefix; never called by the services.
 */
export async function deleteTopology(channel: Channel, names: Topology): Promise<void> {
  for (const short of WORK_QUEUES) {
    const q = names.queues[short]
    for (const name of [q.name, q.dlq, ...q.retries.map((r) => r.name)]) await channel.deleteQueue(name)
    await channel.deleteExchange(q.deadLetterExchange)
  }
  await channel.deleteExchange(names.exchange)
  await channel.deleteQueue(names.events.queue)
  await channel.deleteQueue(names.events.legacyQueue)
  await channel.deleteExchange(names.events.exchange)
}

function isTopology(value: unknown): value is Topology {
  return typeof value === 'object' && value !== null && 'queues' in value && 'exchange' in value
}
