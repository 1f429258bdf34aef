import type { EventSink } from './event'

/** Options of a replica's heartbeat. */
export interface HeartbeatOptions {
  /** Between two heartbeats (REPLICA_HEARTBEAT_MS); sent with each, so a reader judges staleness per replica. */
  intervalMs: number
  /** Messages this process has finished since it started (a consumer's acks); a reader turns two of them into a rate. */
  handled?: () => number
}

/** A running heartbeat; `stop` says goodbye. */
export interface Heartbeat {
  /** Stops beating and emits `replica.stopped`, so the replica leaves the list at once instead of going stale. Idempotent. */
  stop(): void
}

/**
 * Emits `replica.heartbeat` now and every `intervalMs` through the process's
 * event publisher, so the replica is listed while it runs, idle or not. The
 * api's collector keeps heartbeats out of the event stream (they only
 * refresh the replicas hash): a process costs one small event per interval
 * and no client's stream ever sees one. A cumulative count (not a per-interval
 * one) survives a lost heartbeat: the next one still gives the right rate.
 */
export function startHeartbeat(events: EventSink & { readonly stalled?: boolean }, opts: HeartbeatOptions): Heartbeat {
  const beat = (): void => {
    // Late, a heartbeat says nothing; buffered while the broker is away, it would push out real events
    // (the buffer drops its oldest) and arrive in a burst on reconnect. The next one after it goes.
    if (events.stalled === true) return
    const handled = opts.handled?.()
    events.emit('replica.heartbeat', { subject: 'replica', data: { intervalMs: opts.intervalMs, ...(handled === undefined ? {} : { handled }) } })
  }
  beat()
  const timer = setInterval(beat, opts.intervalMs)
  timer.unref()
  let stopped = false
  return {
    stop() {
      if (stopped) return
      stopped = true
      clearInterval(timer)
      events.emit('replica.stopped', { subject: 'replica', data: {} })
    }
  }
}
