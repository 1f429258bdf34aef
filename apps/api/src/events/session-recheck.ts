import type { SseStream } from './sse-stream'

/** Who opened a stream: the token to re-check and the user it must still belong to. */
export interface StreamOwner {
  token: string
  userId: string
  admin: boolean
}

/** Options of the session re-check. */
export interface SessionRecheckOptions {
  /** The open streams and their owners; the live map, read at every tick. */
  owners: ReadonlyMap<SseStream, StreamOwner>
  /** The user id of a token's session, undefined when it is gone; throws when it cannot tell. */
  sessionUser: (token: string) => Promise<string | undefined>
  /** Whether a user is (still) an admin; throws when it cannot tell. */
  isAdmin: (userId: string) => Promise<boolean>
  intervalMs: number
}

/**
 * A stream outlives the request that checked its token: every interval, end
 * the streams whose session was logged out or expired, and admin streams of
 * users who are no longer admins. A check that cannot answer (Redis or
 * Postgres away) keeps the stream; the next one decides.
 */
export function startSessionRecheck(opts: SessionRecheckOptions): { stop(): void } {
  let checking = false
  const check = async (stream: SseStream, owner: StreamOwner): Promise<void> => {
    try {
      if (await opts.sessionUser(owner.token) !== owner.userId) return stream.close()
      if (owner.admin && !(await opts.isAdmin(owner.userId))) stream.close()
    } catch {
      // Unknown for now: keep the stream.
    }
  }
  const timer = setInterval(() => {
    if (checking || opts.owners.size === 0) return
    checking = true
    void (async () => {
      for (const [stream, owner] of [...opts.owners]) await check(stream, owner)
    })().finally(() => { checking = false })
  }, opts.intervalMs)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}
