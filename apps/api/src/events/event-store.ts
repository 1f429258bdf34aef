import type { Redis, Result } from 'ioredis'
import { EVENT_TYPES, type EmittedEvent, type EventType } from '@socialnet/broker'

/** The largest stream id (both parts 2^64 - 1). */
const LAST_POSSIBLE_ID = '18446744073709551615-18446744073709551615'

/** How far back a reconnecting client can resume (Last-Event-ID): the stream keeps this much. */
export const REPLAY_WINDOW_MS = 10 * 60_000
/** A replica whose last heartbeat is older than this is no longer listed in `queue.stats` (and its entry is removed). */
export const REPLICA_SEEN_WINDOW_MS = 60_000
/** Heartbeats a replica may miss before it is listed as stale (greyed in the console). */
export const STALE_AFTER_MISSED_BEATS = 3
/** The interval assumed for a heartbeat whose own is missing or out of range. */
const DEFAULT_HEARTBEAT_MS = 5000
/** REPLICA_HEARTBEAT_MS's largest value: three of them fit in the window, so a silent replica goes stale before it goes. */
const MAX_HEARTBEAT_MS = REPLICA_SEEN_WINDOW_MS / STALE_AFTER_MISSED_BEATS

/** An entry of the stream: the event's id, its JSON without the id, and the parsed event. */
export interface StoredEvent {
  id: string
  event: EmittedEvent
  /** The event as served, with its id, one line of JSON. */
  json: string
}

/**
 * Appends an event to the shared stream and, under the same entry id, to
 * its owner's own stream (KEYS[2]), which expires once the owner has been
 * quiet for the replay window. One script, so the two ids cannot differ.
 */
const APPEND_OWNED = `
local id = redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[1], '*', 'e', ARGV[2])
redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[1], id, 'e', ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return id`

declare module 'ioredis' {
  interface RedisCommander<Context> {
    socialnetAppendOwnedEvent(stream: string, userStream: string, minId: string, body: string, ttlMs: string): Result<string, Context>
  }
}

/** A service process that sent a heartbeat within the last minute. */
export interface ReplicaSeen {
  service: string
  replica: string
  /** When its last heartbeat was stored. */
  lastSeenAt: string
  /** True after STALE_AFTER_MISSED_BEATS heartbeats missed: probably dead (or cut off from the broker). */
  stale: boolean
  /** Messages it has finished since it started, as its last heartbeat said (mailer, worker). */
  handled?: number
}

/** What the replicas hash holds per `service/replica`. */
interface Presence {
  lastSeenAt: string
  intervalMs: number
  handled?: number
}

/** A heartbeat's data as stored: its interval (in range, else the default) and its count (when it is one). */
function presenceOf(data: Record<string, unknown>, now: Date): Presence {
  const { intervalMs, handled } = data
  const interval = typeof intervalMs === 'number' && intervalMs >= 100 && intervalMs <= MAX_HEARTBEAT_MS ? intervalMs : DEFAULT_HEARTBEAT_MS
  const count = typeof handled === 'number' && Number.isSafeInteger(handled) && handled >= 0 ? { handled } : {}
  return { lastSeenAt: now.toISOString(), intervalMs: interval, ...count }
}

/** Orders two stream entry ids (negative: a before b). */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-')
  const [bm, bs] = b.split('-')
  const ms = BigInt(am!) - BigInt(bm!)
  if (ms !== 0n) return ms < 0n ? -1 : 1
  const seq = BigInt(as ?? '0') - BigInt(bs ?? '0')
  return seq === 0n ? 0 : seq < 0n ? -1 : 1
}

/** Checks an event read off the broker is one we serve; anything else is dropped by the collector. */
export function parseEmittedEvent(body: string): EmittedEvent | undefined {
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return undefined
  }
  return checkEmittedEvent(value)
}

/** The same check on an event already parsed (one element of a batch). */
export function checkEmittedEvent(value: unknown): EmittedEvent | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const e = value as Record<string, unknown>
  const ok = EVENT_TYPES.includes(e.type as EventType) && typeof e.at === 'string' && typeof e.service === 'string' &&
    typeof e.replica === 'string' && typeof e.subject === 'string' && (e.userId === undefined || typeof e.userId === 'string') &&
    typeof e.data === 'object' && e.data !== null
  return ok ? (e as unknown as EmittedEvent) : undefined
}

/** Turns a raw XRANGE/XREAD entry into a StoredEvent; undefined for an entry that is not ours. */
export function toStored(id: string, fields: string[]): StoredEvent | undefined {
  const index = fields.indexOf('e')
  const raw = index >= 0 ? fields[index + 1] : undefined
  if (raw === undefined || !raw.startsWith('{')) return undefined
  try {
    const event = JSON.parse(raw) as EmittedEvent
    // The stored JSON never holds an id; splicing it in saves a stringify per event.
    return { id, event, json: `{"id":"${id}",${raw.slice(1)}` }
  } catch {
    return undefined
  }
}

/**
 * The event stream in Redis: ONE stream shared by every api replica (each
 * appends what it collects and reads everything), trimmed to the replay
 * window, plus a hash of the replicas seen, plus per user a copy of that
 * user's entries (for replays; it expires when the user has been quiet for
 * the window).
 */
export class EventStore {
  readonly streamKey: string
  readonly replicasKey: string

  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly maxLen: number) {
    this.streamKey = `${prefix}stream`
    this.replicasKey = `${prefix}replicas`
    // Idempotent: a second store on the same client defines the same script again.
    redis.defineCommand('socialnetAppendOwnedEvent', { numberOfKeys: 2, lua: APPEND_OWNED })
  }

  /** One user's own stream: the same entries (same ids) as the shared stream, theirs only. */
  userStreamKey(userId: string): string {
    return `${this.prefix}user:${userId}`
  }

  /**
   * Appends one event; its entry id becomes the event's id. `MINID ~` drops
   * entries older than the replay window as it goes (ids are times, so no
   * extra bookkeeping); the `~` lets Redis trim whole nodes only, which is
   * cheap. The hard length cap is applied separately (see trim). An event
   * with an owner also goes to the owner's own stream, so replaying a
   * user's events reads that user's entries only, never the whole stream.
   */
  async append(event: EmittedEvent, body: string): Promise<string> {
    const [result] = await this.appendMany([{ event, body }])
    if (result instanceof Error) throw result
    return result!
  }

  /**
   * Appends events in the order given, in one round trip (one pipeline: an
   * XADD, or the owner's script, per event); each gets its entry id, or the
   * error Redis answered for it. Rejects when the round trip itself fails.
   */
  async appendMany(events: readonly { event: EmittedEvent; body: string }[]): Promise<(string | Error)[]> {
    if (events.length === 0) return []
    const minId = String(Date.now() - REPLAY_WINDOW_MS)
    const ttl = String(REPLAY_WINDOW_MS)
    const pipeline = this.redis.pipeline()
    for (const { event, body } of events) {
      if (event.userId) pipeline.socialnetAppendOwnedEvent(this.streamKey, this.userStreamKey(event.userId), minId, body, ttl)
      else pipeline.xadd(this.streamKey, 'MINID', '~', minId, '*', 'e', body)
    }
    const results = await pipeline.exec()
    return results!.map(([err, id]) => err ?? (id as string))
  }

  /**
   * A `replica.heartbeat` marks its replica alive now (with its interval and count);
   * a `replica.stopped` removes it. The time is the collector's, not the sender's:
   * one clock judges every replica, whatever theirs says.
   */
  async recordPresence(event: EmittedEvent): Promise<void> {
    const key = `${event.service}/${event.replica}`
    if (event.type === 'replica.stopped') await this.redis.hdel(this.replicasKey, key)
    // Each beat renews the hash's life: read or not, it goes a minute after the last replica did
    // (stale entries are otherwise pruned only when the list is read, and every container brings a new name).
    else await this.redis.multi().hset(this.replicasKey, key, JSON.stringify(presenceOf(event.data, new Date()))).pexpire(this.replicasKey, REPLICA_SEEN_WINDOW_MS).exec()
  }

  /** Caps the stream's length (approximately): a burst inside the window cannot grow it without bound. */
  async trim(): Promise<void> {
    await this.redis.xtrim(this.streamKey, 'MAXLEN', '~', this.maxLen)
  }

  /** Up to `count` entries after `afterId` (exclusive), oldest first: of one user's events, or of all. */
  async after(afterId: string, count: number, userId?: string): Promise<StoredEvent[]> {
    // Nothing comes after the largest id there can be, and Redis refuses an interval starting past it.
    if (afterId === LAST_POSSIBLE_ID) return []
    const key = userId ? this.userStreamKey(userId) : this.streamKey
    const entries = await this.redis.xrange(key, `(${afterId}`, '+', 'COUNT', count)
    return entries.map(([id, fields]) => toStored(id, fields)).filter((e): e is StoredEvent => e !== undefined)
  }

  /** The newest entry id, or `0-0` for an empty stream: where a reader starts. */
  async lastId(): Promise<string> {
    const [last] = await this.redis.xrevrange(this.streamKey, '+', '-', 'COUNT', 1)
    return last?.[0] ?? '0-0'
  }

  /**
   * Service processes that sent a heartbeat within the last minute, those that missed
   * three marked stale; older (or unreadable) entries are removed as they are found.
   */
  async replicasSeen(): Promise<ReplicaSeen[]> {
    const all = await this.redis.hgetall(this.replicasKey)
    const now = Date.now()
    const seen: ReplicaSeen[] = []
    const gone: string[] = []
    for (const [key, value] of Object.entries(all)) {
      const presence = parsePresence(value)
      const age = presence ? now - Date.parse(presence.lastSeenAt) : Number.NaN
      const slash = key.indexOf('/')
      if (!presence || !(age <= REPLICA_SEEN_WINDOW_MS) || slash < 0) {
        gone.push(key)
        continue
      }
      seen.push({
        service: key.slice(0, slash),
        replica: key.slice(slash + 1),
        lastSeenAt: presence.lastSeenAt,
        stale: age > STALE_AFTER_MISSED_BEATS * presence.intervalMs,
        ...(presence.handled === undefined ? {} : { handled: presence.handled })
      })
    }
    if (gone.length > 0) await this.redis.hdel(this.replicasKey, ...gone)
    return seen.sort((a, b) => a.service.localeCompare(b.service) || a.replica.localeCompare(b.replica))
  }
}

/** A replicas-hash value, or undefined for one this version did not write (it is then removed). */
function parsePresence(value: string): Presence | undefined {
  try {
    const parsed = JSON.parse(value) as Partial<Presence>
    if (typeof parsed.lastSeenAt !== 'string' || typeof parsed.intervalMs !== 'number') return undefined
    return parsed as Presence
  } catch {
    return undefined
  }
}
