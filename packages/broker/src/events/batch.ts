import type { EventService, EventType } from './event'

/**
 * AMQP `type` of a message that carries a batch of events: a JSON array, in
 * the order they were emitted. Any other message on the events exchange is
 * one event, as publishers before batches sent them (routing key = its type);
 * the collector takes both, so replicas of two versions can run side by side.
 */
export const EVENT_BATCH_TYPE = 'events.batch.v1'

/**
 * The routing key of a service's batches. The broker lets each service's
 * user publish its own key only (infra/rabbitmq/definitions.template.json);
 * which types a batch of that key may hold is EVENT_EMITTERS' business, checked
 * by the collector.
 */
export function eventBatchRoutingKey(service: EventService): string {
  return `batch.${service}`
}

/**
 * The event types each service emits (docs/events.md, Types): the same
 * rule as the per-type topic permissions of each broker user, which a batch
 * key cannot carry. The collector discards an event of a batch whose
 * service does not emit its type, or that names another service than the
 * batch's key: a mailer's user cannot pass for the api.
 */
export const EVENT_EMITTERS: Readonly<Record<EventService, RegExp>> = {
  api: /^(user|outbox|image|job|replica)\./,
  mailer: /^(mail|replica)\./,
  worker: /^(job|image|replica)\./,
  bounces: /^(mail\.(bounced|suppressed)|replica\.(heartbeat|stopped))$/
}

/** True when `service` may emit `type` (EVENT_EMITTERS). */
export function mayEmit(service: string, type: EventType): boolean {
  const rule = (EVENT_EMITTERS as Record<string, RegExp | undefined>)[service]
  return rule !== undefined && rule.test(type)
}

/** The service a batch routing key names, or undefined for any other key (one event of an older publisher). */
export function batchService(routingKey: string): EventService | undefined {
  if (!routingKey.startsWith('batch.')) return undefined
  const service = routingKey.slice('batch.'.length)
  return Object.hasOwn(EVENT_EMITTERS, service) ? service as EventService : undefined
}

/**
 * The events of one message off the events exchange, parsed but not checked:
 * a batch's elements, or the one event of a message that is not a batch.
 * Throws on JSON that does not parse. For the collector, and for tests that
 * read the events queue themselves.
 */
export function eventsOfMessage(message: { content: Buffer; properties: { type?: unknown } }): unknown[] {
  const value: unknown = JSON.parse(message.content.toString('utf8'))
  if (message.properties.type !== EVENT_BATCH_TYPE) return [value]
  return Array.isArray(value) ? value : []
}
