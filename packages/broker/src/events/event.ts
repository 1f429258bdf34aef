/**
 * The event shape every service emits and the api serves (docs/events.md).
 * Events are disposable observations of the work, never part of it.
 */

/** Every event type; docs/events.md lists the data of each. */
export const EVENT_TYPES = [
  'user.registered',
  'outbox.published',
  'mail.consumed',
  'mail.sent',
  'mail.duplicate_skipped',
  'mail.retry_scheduled',
  'mail.dead_lettered',
  'mail.deferred',
  'mail.bounced',
  'mail.suppressed',
  'mail.throttled',
  'job.status',
  'image.stored',
  'image.thumbnails_made',
  'queue.stats',
  'stream.dropped',
  'stream.end',
  'replica.heartbeat',
  'replica.stopped'
] as const
/** One event type. */
export type EventType = (typeof EVENT_TYPES)[number]

/** Which service emitted an event. */
export type EventService = 'api' | 'mailer' | 'worker' | 'bounces'

/** What the code that emits an event says about it; the emitter adds type, at, service and replica. */
export interface EventInput {
  /** `user:<id>`, `mail:<messageId>`, `job:<id>`, `image:<id>`, `replica`. */
  subject: string
  /** The user whose own stream shows the event; absent for system events. */
  userId?: string
  data: Record<string, unknown>
}

/** An event as published to the broker: everything but the id, which the collector assigns. */
export interface EmittedEvent extends EventInput {
  type: EventType
  /** ISO 8601, the emitting process's clock. */
  at: string
  service: EventService
  replica: string
}

/** An event as served: `id` is its entry id in the event stream. */
export interface StreamedEvent extends EmittedEvent {
  id: string
}

/** Anything events can be handed to without waiting: the EventPublisher, or a test's collector. */
export interface EventSink {
  emit(type: EventType, event: EventInput): void
}

/** AMQP header carrying the user id a message belongs to, so its consumer can attribute its events. */
export const USER_ID_HEADER = 'x-user-id'
/** AMQP header with the publish time in ms since the epoch (the AMQP timestamp property has whole seconds). */
export const PUBLISHED_AT_HEADER = 'x-published-at'

/** The user id a consumed message's headers carry, if any. */
export function userIdOf(headers: Record<string, unknown> | undefined): string | undefined {
  const value = headers?.[USER_ID_HEADER]
  return typeof value === 'string' && value !== '' ? value : undefined
}
