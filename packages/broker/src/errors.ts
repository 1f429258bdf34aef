/** Base of every error this package raises; `code` is stable, the message is for people. */
export class BrokerError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions
  ) {
    super(message, options)
    this.name = new.target.name
  }
}

/** The publish was not confirmed within the publisher's timeout (broker down too long, or blocked). */
export class PublishTimeoutError extends BrokerError {
  constructor(ms: number) {
    super('BROKER_PUBLISH_TIMEOUT', `publish not confirmed within ${ms} ms`)
  }
}

/** The publisher already holds its maximum of unconfirmed messages; the caller should back off. */
export class PublisherBufferFullError extends BrokerError {
  constructor(max: number) {
    super('BROKER_BUFFER_FULL', `publisher buffer full (${max} unconfirmed messages)`)
  }
}

/** The broker could not route the message to any queue (mandatory publish returned). */
export class UnroutableMessageError extends BrokerError {
  constructor(exchange: string, routingKey: string, reason: string) {
    super('BROKER_UNROUTABLE', `message to ${exchange || '(default exchange)'} with key ${routingKey} was returned: ${reason}`)
  }
}

/** The broker refused to take responsibility for the message (basic.nack). */
export class PublishNackedError extends BrokerError {
  constructor() {
    super('BROKER_NACKED', 'broker nacked the message')
  }
}

/** The channel closed before the broker confirmed the message; it may or may not have arrived. */
export class ChannelClosedError extends BrokerError {
  constructor(reason = 'channel closed before the broker confirmed') {
    super('BROKER_CHANNEL_CLOSED', reason)
  }
}

/** The connection, publisher or consumer was closed by its owner. */
export class BrokerClosedError extends BrokerError {
  constructor(what: string) {
    super('BROKER_CLOSED', `${what} is closed`)
  }
}

/** Options of a handler's failure: a stable `code` for dead-letter headers and logs, plus the cause. */
export interface FailureOptions extends ErrorOptions {
  /** Stable, machine-readable reason (e.g. `SMTP_5XX`, `CALLBACK_GONE`); defaults to the class's own. */
  code?: string
}

/**
 * Thrown by a consumer's handler when retrying cannot help (SMTP 5xx, a
 * payload that breaks a rule, a callback target that answered 4xx): the
 * message goes straight to the dead-letter queue with this reason.
 */
export class PermanentError extends BrokerError {
  constructor(message: string, options?: FailureOptions) {
    super(options?.code ?? 'PERMANENT_FAILURE', message, options)
  }
}

/**
 * Thrown by a consumer's handler when a later attempt may succeed (DNS
 * hiccup, connection refused, SMTP 4xx, HTTP 5xx): the message is retried on
 * the queue's schedule and dead-lettered only after its last attempt.
 * `retryAfterMs` asks for a later retry than the schedule's (an HTTP
 * Retry-After); the consumer honours it up to its longest retry delay.
 */
export class TransientError extends BrokerError {
  readonly retryAfterMs: number | undefined
  constructor(message: string, options?: FailureOptions & { retryAfterMs?: number }) {
    super(options?.code ?? 'TRANSIENT_FAILURE', message, options)
    this.retryAfterMs = options?.retryAfterMs
  }
}

/**
 * Thrown by a consumer's handler when the message cannot be handled *yet*
 * for a reason outside it (its receiving domain is out of sending tokens):
 * the consumer parks it in a retry queue for about `delayMs` with the same
 * attempt count, so the wait neither holds a consumer slot nor counts as a
 * failed attempt. Past the consumer's `maxDeferralMs` it counts as a
 * TransientError (retry after `delayMs`), so nothing waits for ever.
 * `scope` names what is throttled (`example.com`), for logs and events.
 */
export class DeferredError extends TransientError {
  readonly delayMs: number
  readonly scope: string | undefined
  constructor(message: string, options: FailureOptions & { delayMs: number; scope?: string }) {
    super(message, { ...options, code: options.code ?? 'DEFERRED', retryAfterMs: options.delayMs })
    this.delayMs = options.delayMs
    this.scope = options.scope
  }
}
