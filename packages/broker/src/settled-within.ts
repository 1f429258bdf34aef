/** How long a shutdown waits for the broker to confirm a channel close; the connection close ends it anyway. */
export const CHANNEL_CLOSE_TIMEOUT_MS = 1000

/**
 * Waits for `work` to settle, but at most `ms`; resolves true if it settled
 * in time. Never rejects. Shutdown paths use it on broker round trips: amqplib
 * never times out a cancel or close by itself, so against a broker that
 * stopped answering (a network partition, a frozen VM) they would wait for
 * the heartbeat to notice, or forever, and outlast the grace period.
 */
export async function settledWithin(work: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (work === undefined) return true
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<false>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms), false)))
  try {
    return await Promise.race([work.then(() => true, () => true), expired])
  } finally {
    clearTimeout(timer)
  }
}
