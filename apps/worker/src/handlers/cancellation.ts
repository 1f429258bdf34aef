import type { JobStatusStore } from '@socialnet/jobs'

/** What `runCancellable` saw: the work's result, or that the owner cancelled the job while it ran. */
export type CancellableOutcome<T> = { cancelled: false; result: T } | { cancelled: true }

/**
 * Runs a job's work with an AbortSignal that fires when the job's status
 * becomes CANCELLED (`DELETE /v1/jobs/{id}`). The status key is polled every
 * `pollMs` while the work runs, rather than listening on Redis pub/sub: the
 * status is the one source of truth, a poll cannot miss a cancel that
 * happened while a subscriber connection was reconnecting, and it needs no
 * second Redis connection per worker. The cost is one HGETALL per `pollMs`
 * per job in flight (at most JOBS_PREFETCH of them), and nothing for work
 * that ends within the first interval. A failed poll is ignored: the next
 * one asks again.
 */
export async function runCancellable<T>(
  store: JobStatusStore,
  jobId: string,
  pollMs: number,
  work: (signal: AbortSignal) => Promise<T>
): Promise<CancellableOutcome<T>> {
  const controller = new AbortController()
  let polling = false
  const timer = setInterval(() => {
    if (polling) return
    polling = true
    store.get(jobId)
      .then((doc) => { if (doc?.status === 'CANCELLED') controller.abort() })
      .catch(() => {})
      .finally(() => { polling = false })
  }, pollMs)
  try {
    return { cancelled: false, result: await work(controller.signal) }
  } catch (err) {
    if (controller.signal.aborted) return { cancelled: true }
    throw err
  } finally {
    clearInterval(timer)
  }
}
