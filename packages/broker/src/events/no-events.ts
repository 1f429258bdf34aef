import type { EventSink } from './event'

/** What a process holds as its event publisher: the EventPublisher, or NoEvents with EVENTS=off. */
export interface EventOutlet extends EventSink {
  /** Events dropped since start. */
  readonly dropped: number
  /** Events waiting for the broker. */
  readonly buffered: number
  /** True while events wait because there is no channel to publish on. */
  readonly stalled: boolean
  /** Sends what can be sent, then releases the channel. Idempotent; never throws. */
  close(): Promise<void>
}

/**
 * The event publisher of a process started with EVENTS=off: every event is
 * discarded where it is made, with no channel, no buffer and no count (an
 * event nobody asked for is not a dropped one). A heartbeat through it sends
 * nothing either, so the process is not listed in `queue.stats`.
 */
export class NoEvents implements EventOutlet {
  readonly dropped = 0
  readonly buffered = 0
  readonly stalled = false
  emit(): void {}
  async close(): Promise<void> {}
}
