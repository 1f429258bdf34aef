/**
 * Which retry queue a failed attempt goes to, and after how long it comes
 * back. Attempt n waits delays[min(n-1, last)], less up to `jitter` of it
 * (so messages that failed together do not return together). A Retry-After
 * longer than that picks the first retry queue at least that long (the
 * longest one caps it) and waits exactly what was asked. The wait is the
 * message's `expiration`, never above its queue's TTL: exact at the head of
 * the queue, and at most the queue's TTL behind a longer-waiting message.
 */
export function retryTarget(
  retries: ReadonlyArray<{ delayMs: number; name: string }>,
  attempt: number,
  retryAfterMs: number | undefined,
  jitter: number
): { queue: string; delayMs: number } {
  const scheduled = retries[Math.min(attempt - 1, retries.length - 1)]!
  if (retryAfterMs !== undefined && retryAfterMs > scheduled.delayMs) {
    const target = retries.find((r) => r.delayMs >= retryAfterMs) ?? retries[retries.length - 1]!
    return { queue: target.name, delayMs: Math.min(retryAfterMs, target.delayMs) }
  }
  const jittered = Math.round(scheduled.delayMs * (1 - Math.random() * jitter))
  return { queue: scheduled.name, delayMs: Math.max(jittered, retryAfterMs ?? 0) }
}

/**
 * Where a deferred message waits: the first retry queue at least `delayMs`
 * long (the longest one caps it), with `delayMs` as its expiration. The
 * shortest retry delay is the floor, so a handler deferring with 0 ms cannot
 * spin a message through the broker.
 */
export function deferTarget(retries: ReadonlyArray<{ delayMs: number; name: string }>, delayMs: number): { queue: string; delayMs: number } {
  const wanted = Math.max(Math.round(delayMs), retries[0]!.delayMs)
  const target = retries.find((r) => r.delayMs >= wanted) ?? retries[retries.length - 1]!
  return { queue: target.name, delayMs: Math.min(wanted, target.delayMs) }
}
