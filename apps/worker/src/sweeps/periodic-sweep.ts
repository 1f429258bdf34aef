import type { Logger } from 'pino'

/** A running periodic sweep: `stop()` cancels the timer and waits for a sweep in progress. */
export interface PeriodicSweep {
  /** One full pass now (batch after batch until nothing is due); also what the timer runs. */
  sweepNow(): Promise<number>
  stop(): Promise<void>
}

export interface PeriodicSweepOptions {
  /** Removes one batch; answers how many rows it removed. */
  sweepBatch: () => Promise<number>
  batchSize: number
  /** First pass after one interval. */
  intervalMs: number
  log: Logger
  /** Log line after a pass that removed something, with its fields. */
  done: { msg: string; fields?: Record<string, unknown> }
  /** Log line when a pass failed (it is retried on the next tick). */
  failed: string
}

/**
 * Runs `sweepBatch` every `intervalMs`, batch after batch until a short batch
 * says nothing more is due. One pass at a time: a tick or `sweepNow()` during
 * a pass joins it. Errors are logged and the next tick tries again.
 */
export function startPeriodicSweep(opts: PeriodicSweepOptions): PeriodicSweep {
  let running: Promise<number> | undefined
  let stopped = false
  const sweepNow = (): Promise<number> => {
    running ??= (async () => {
      let total = 0
      try {
        for (;;) {
          const removed = await opts.sweepBatch()
          total += removed
          if (removed < opts.batchSize || stopped) break
        }
        if (total > 0) opts.log.info({ removed: total, ...opts.done.fields }, opts.done.msg)
      } catch (err) {
        opts.log.warn({ err }, opts.failed)
      } finally {
        running = undefined
      }
      return total
    })()
    return running
  }
  const timer = setInterval(() => { void sweepNow() }, opts.intervalMs)
  timer.unref()
  return {
    sweepNow,
    async stop() {
      stopped = true
      clearInterval(timer)
      await running
    }
  }
}
