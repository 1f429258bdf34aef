/**
 * @socialnet/broker: the one RabbitMQ client of the system.
 *
 *   const connection = new BrokerConnection({ url, prefix, retryDelaysMs, name: 'api', log })  // from the app's validated env
 *   // a consumer-only process passes ownsTopology: false (its broker user may touch its own queues only)
 *   void connection.connect()                      // retries in the background
 *   const publisher = new Publisher(connection)
 *   await publisher.publish({ type: 'mail.welcome.v1', messageId, payload })  // after the broker confirmed
 *
 *   const consumer = new Consumer(connection, { queue: 'mail', prefetch: 10, maxAttempts: 5, handler })
 *   // in a handler: throw new DeferredError('not yet', { delayMs }) parks the message, same attempt
 *   await consumer.start(); ...; await consumer.stop(10_000); await connection.close()
 *
 *   const events = new EventPublisher(connection, { service: 'mailer', replica })  // fire and forget
 *   events.emit('mail.sent', { subject: `mail:${id}`, userId, data: { ... } })
 *   const heartbeat = startHeartbeat(events, { intervalMs: 5000, handled: () => consumer.handled })  // stop() says goodbye
 *
 * The routing key of a message defaults to its type; the topology binds
 * `mail.#` to the mail queue, `job.#` to jobs, `image.#` to thumbnails.
 */
export { AmqpEnv, AmqpRetryEnv, EventsEnv, parseRetryDelays, BrokerConfigError, DEFAULT_AMQP_URL, DEFAULT_RETRY_DELAYS_MS } from './config'
export {
  topology,
  declareTopology,
  declareQueueFamily,
  deleteTopology,
  EVENTS_QUEUE_MAX_LENGTH,
  EVENTS_QUEUE_TTL_MS,
  type EventNames,
  WORK_QUEUES,
  QUEUE_BINDINGS,
  DELIVERY_LIMIT,
  type Topology,
  type TopologyOptions,
  type QueueNames,
  type WorkQueue
} from './topology'
export { BrokerConnection, type BrokerConnectionOptions, type BrokerLogger } from './connection'
export { OtherStacks, launcherOfThisProcess, presenceQueues, otherStacksMessage, type Launcher, type Presence } from './other-stacks'
export { Publisher, type PublishRequest, type PublisherOptions } from './publisher'
export { Consumer, type ConsumerOptions, type ConsumerDecision } from './consumer'
export { ManagedChannel, type ManagedChannelOptions } from './managed-channel'
export { classifyFailure, type FailureClass, type MessageHandler, type HandlerContext, type FailureOutcome, type FailureKind } from './failure'
export { DeadLetterQueue, REDRIVEN_HEADER, type DeadLetter, type DeadLetterMessage, type ReplaySelection, type ReplayResult } from './dead-letters'
export {
  EVENT_TYPES, USER_ID_HEADER, PUBLISHED_AT_HEADER, userIdOf,
  type EventType, type EventService, type EventInput, type EmittedEvent, type StreamedEvent, type EventSink
} from './events/event'
export { EventPublisher, type EventPublisherOptions } from './events/event-publisher'
export { startHeartbeat, type Heartbeat, type HeartbeatOptions } from './events/heartbeat'
export { EVENT_BATCH_TYPE, EVENT_EMITTERS, eventBatchRoutingKey, mayEmit, batchService, eventsOfMessage } from './events/batch'
export { EVENT_BATCH_MAX, EVENT_BATCH_MS } from './events/event-publisher'
export { NoEvents, type EventOutlet } from './events/no-events'
export { ATTEMPT_HEADER, DEFERRAL_HEADERS, FAILURE_HEADERS, LAST_ERROR_HEADER, type ConsumedMessage, type AnyConsumedMessage } from './message'
export { PUBLISH_ID_HEADER, ConfirmedChannel } from './confirmed-channel'
export {
  BrokerError,
  PermanentError,
  TransientError,
  DeferredError,
  type FailureOptions,
  PublishTimeoutError,
  PublisherBufferFullError,
  UnroutableMessageError,
  PublishNackedError,
  ChannelClosedError,
  BrokerClosedError
} from './errors'
