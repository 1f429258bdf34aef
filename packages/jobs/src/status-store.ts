import type Redis from 'ioredis'
import type { JobType } from './job-types'

/**
 * A job's life: QUEUED -> STARTED -> IN_PROGRESS -> DONE | FAILED (back to
 * QUEUED while a retry waits); its owner may move any unfinished job to CANCELLED.
 */
export const JOB_STATUSES = ['QUEUED', 'STARTED', 'IN_PROGRESS', 'DONE', 'FAILED', 'CANCELLED'] as const
export type JobStatus = (typeof JOB_STATUSES)[number]

/** Statuses a job never leaves. */
export const FINAL_JOB_STATUSES: readonly JobStatus[] = ['DONE', 'FAILED', 'CANCELLED']

/** One attempt to deliver a callback, as `GET /v1/jobs/{id}` lists it. */
export interface DeliveryAttempt {
  /** ISO-8601 start of the attempt. */
  at: string
  /** The receiver's HTTP status; absent when no answer came (refused, DNS, timeout, aborted). */
  statusCode?: number
  durationMs: number
  /** What went wrong, as shown to the job's owner; absent for a delivered callback. */
  error?: string
}

/** The newest this many delivery attempts are kept per job. */
export const MAX_DELIVERY_ATTEMPTS_KEPT = 20

/** What `GET /v1/jobs/{id}` shows. Times are ISO-8601; `result` is any JSON the worker recorded. */
export interface JobStatusDoc {
  id: string
  type: JobType
  status: JobStatus
  /** How many times a worker has started the job (a redelivery after a crash counts). */
  attempts: number
  createdAt: string
  updatedAt: string
  result?: unknown
  /** Why the job failed, or why the last attempt failed while a retry is pending. */
  error?: string
  /** Callback jobs: each delivery attempt, oldest first (the newest MAX_DELIVERY_ATTEMPTS_KEPT). */
  deliveries?: DeliveryAttempt[]
  /** User id of whoever submitted the job: the only caller the api shows it to. Never part of a response body. */
  owner?: string
}

/** Where the store reports each status change (the process's event publisher); it must not block. */
export interface JobEventSink {
  emit(type: 'job.status', event: { subject: string; userId?: string; data: Record<string, unknown> }): void
}

export interface JobStatusStoreOptions {
  /** Prefix of every key this store writes; tests use their own for isolation. */
  prefix?: string
  /** How long a job's status is kept after its last change. */
  ttlSeconds?: number
  /** Told every status the store writes (a `job.status` event), so every change is reported from here alone. */
  events?: JobEventSink
  /** How many of a user's newest jobs `listByOwner` keeps (MAX_JOBS_LISTED_PER_OWNER). */
  maxListedPerOwner?: number
}

const TERMINAL: ReadonlySet<string> = new Set(FINAL_JOB_STATUSES)

/** Outcome of a worker's status write: `applied` is false when the job had already finished. */
export interface Transition {
  applied: boolean
  doc: JobStatusDoc
}

export const DEFAULT_JOBS_PREFIX = 'socialnet:jobs:'
export const DEFAULT_JOB_TTL_SECONDS = 24 * 3600

/** A user's job list keeps at most this many (the newest); older ones are still readable by id until they expire. */
export const MAX_JOBS_LISTED_PER_OWNER = 1000

/** One page of a user's jobs, newest first; `nextCursor` is null on the last page. */
export interface JobPage {
  jobs: JobStatusDoc[]
  nextCursor: string | null
}

/*
 * One atomic step of a job's life. Terminal states never move again, so a
 * redelivered message of a finished job cannot drag it back to STARTED. A
 * missing hash is recreated: the worker may see a job whose QUEUED write the
 * api rolled back after an unconfirmed publish that the broker did keep,
 * unless mustExist is set (a cancel must not resurrect an expired job).
 * `revive` lets a FAILED job start again with a fresh attempt count: an
 * operator replayed its dead letter. DONE and CANCELLED never move.
 * KEYS[1] job hash; ARGV: status, now, ttl, type, bumpAttempts, result, error, mustExist, revive.
 */
const TRANSITION_LUA = `
local current = redis.call('HGET', KEYS[1], 'status')
local revive = current == 'FAILED' and ARGV[9] == '1'
if (current == 'DONE' or current == 'FAILED' or current == 'CANCELLED') and not revive then
  return {0, redis.call('HGETALL', KEYS[1])}
end
if revive then redis.call('HSET', KEYS[1], 'attempts', 0) end
if not current then
  if ARGV[8] == '1' then return {0, {}} end
  redis.call('HSET', KEYS[1], 'type', ARGV[4], 'createdAt', ARGV[2], 'attempts', 0)
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updatedAt', ARGV[2])
if ARGV[5] == '1' then redis.call('HINCRBY', KEYS[1], 'attempts', 1) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'result', ARGV[6]) end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[7]) else redis.call('HDEL', KEYS[1], 'error') end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, redis.call('HGETALL', KEYS[1])}
`

/*
 * Appends one delivery attempt to a job's list, keeping the newest ARGV[2];
 * a job that expired meanwhile is not recreated. KEYS[1] job hash; ARGV: attempt JSON, max, ttl.
 */
const DELIVERY_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local raw = redis.call('HGET', KEYS[1], 'deliveries')
local list = raw and cjson.decode(raw) or {}
table.insert(list, cjson.decode(ARGV[1]))
while #list > tonumber(ARGV[2]) do table.remove(list, 1) end
redis.call('HSET', KEYS[1], 'deliveries', cjson.encode(list))
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
`

type TransitionCommand = (key: string, ...args: string[]) => Promise<[number, string[]]>
type DeliveryCommand = (key: string, ...args: string[]) => Promise<number>

/**
 * Job status in Redis, shared by the api (creates, reads) and the worker
 * (moves the job along). Each job is one hash with a TTL refreshed on every
 * change, so finished jobs disappear on their own.
 */
export class JobStatusStore {
  readonly prefix: string
  readonly ttlSeconds: number
  private readonly maxListedPerOwner: number
  private readonly transitionCommand: TransitionCommand
  private readonly events: JobEventSink | undefined
  private readonly deliveryCommand: DeliveryCommand

  constructor(private readonly redis: Redis, opts: JobStatusStoreOptions = {}) {
    this.prefix = opts.prefix ?? DEFAULT_JOBS_PREFIX
    this.ttlSeconds = opts.ttlSeconds ?? DEFAULT_JOB_TTL_SECONDS
    this.events = opts.events
    this.maxListedPerOwner = opts.maxListedPerOwner ?? MAX_JOBS_LISTED_PER_OWNER
    if (!('jobTransition' in redis)) {
      redis.defineCommand('jobTransition', { numberOfKeys: 1, lua: TRANSITION_LUA })
    }
    if (!('jobDelivery' in redis)) {
      redis.defineCommand('jobDelivery', { numberOfKeys: 1, lua: DELIVERY_LUA })
    }
    const commands = redis as unknown as { jobTransition: TransitionCommand; jobDelivery: DeliveryCommand }
    this.transitionCommand = commands.jobTransition.bind(redis)
    this.deliveryCommand = commands.jobDelivery.bind(redis)
  }

  private key(id: string): string {
    return `${this.prefix}status:${id}`
  }

  /** A sorted set of the owner's job ids scored by creation time (ms): the index `GET /v1/jobs` reads. */
  private ownerKey(owner: string): string {
    return `${this.prefix}owner:${owner}`
  }

  /**
   * Records a new job as QUEUED (the api does this before publishing, so a fast worker finds it).
   * `owner` is the submitter's user id; a job without one is shown to nobody.
   */
  async create(id: string, type: JobType, opts: { owner?: string; now?: Date } = {}): Promise<JobStatusDoc> {
    const at = (opts.now ?? new Date()).toISOString()
    const fields = { type, status: 'QUEUED' as const, attempts: 0, createdAt: at, updatedAt: at }
    const owned = opts.owner === undefined ? fields : { ...fields, owner: opts.owner }
    const tx = this.redis.multi()
      .hset(this.key(id), owned)
      .expire(this.key(id), this.ttlSeconds)
    if (opts.owner !== undefined) {
      // Trimmed to the newest maxListedPerOwner as it grows, so one user's index stays bounded whatever
      // they submit; entries whose status expired go as a listing meets them; the whole index expires a
      // TTL after the user's newest job (a job still changing later than that is readable by id only).
      const ownerKey = this.ownerKey(opts.owner)
      const createdMs = Date.parse(at)
      tx.zadd(ownerKey, createdMs, id)
        .zremrangebyrank(ownerKey, 0, -this.maxListedPerOwner - 1)
        .expire(ownerKey, this.ttlSeconds)
    }
    await tx.exec()
    const doc = { id, ...owned }
    this.report(doc)
    return doc
  }

  /** The job's status as a `job.status` event; every status write goes through here. */
  private report(doc: JobStatusDoc): void {
    this.events?.emit('job.status', jobStatusEvent(doc))
  }

  /** The job's status, or undefined if it never existed or has expired. */
  async get(id: string): Promise<JobStatusDoc | undefined> {
    const fields = await this.redis.hgetall(this.key(id))
    return fields.status ? toDoc(id, fields) : undefined
  }

  /** Forgets a job the broker never accepted, so its id does not linger as QUEUED (nor in its owner's list). */
  async remove(id: string, owner?: string): Promise<void> {
    const tx = this.redis.multi().del(this.key(id))
    if (owner !== undefined) tx.zrem(this.ownerKey(owner), id)
    await tx.exec()
  }

  /**
   * `owner`'s jobs, newest first, `limit` at a time. The cursor is the last id
   * of the previous page: the next page starts right after it in the index
   * (ties in the same millisecond keep one order, so nothing is skipped or
   * repeated). An entry whose status has expired (a day after the job's last
   * change) is dropped from the index as the list meets it, and the page reads
   * on to stay full; the index holds at most maxListedPerOwner, so a read is
   * bounded. A cursor whose job has left the index since means the page after
   * it cannot be placed: it is empty.
   */
  async listByOwner(owner: string, opts: { cursor?: string; limit: number }): Promise<JobPage> {
    const ownerKey = this.ownerKey(owner)
    let start = 0
    if (opts.cursor !== undefined) {
      const rank = await this.redis.zrevrank(ownerKey, opts.cursor)
      if (rank === null) return { jobs: [], nextCursor: null }
      start = rank + 1
    }
    const jobs: JobStatusDoc[] = []
    const gone: string[] = []
    let more = true
    while (more && jobs.length < opts.limit) {
      const want = opts.limit - jobs.length
      // One more than wanted tells whether another page follows.
      const ids = await this.redis.zrevrange(ownerKey, start, start + want)
      more = ids.length > want
      const batch = ids.slice(0, want)
      if (batch.length === 0) break
      const pipeline = this.redis.pipeline()
      for (const id of batch) pipeline.hgetall(this.key(id))
      const results = (await pipeline.exec()) ?? []
      results.forEach(([err, fields], i) => {
        if (err) throw err
        const hash = fields as Record<string, string>
        if (hash.status) jobs.push(toDoc(batch[i]!, hash))
        else gone.push(batch[i]!)
      })
      start += batch.length
    }
    if (gone.length > 0) await this.redis.zrem(ownerKey, ...gone)
    const last = jobs.at(-1)
    return { jobs, nextCursor: more && last ? last.id : null }
  }

  /**
   * A worker took the job (one more attempt). `revive`: the message was
   * replayed from the dead-letter queue, so a FAILED job runs again (attempts from 1).
   */
  started(id: string, type: JobType, opts: { revive?: boolean } = {}): Promise<Transition> {
    return this.transition(id, type, 'STARTED', { bumpAttempts: true, revive: opts.revive })
  }

  /** The job's real work has begun. */
  inProgress(id: string, type: JobType): Promise<Transition> {
    return this.transition(id, type, 'IN_PROGRESS', {})
  }

  /** Finished; `result` is shown to the client. */
  done(id: string, type: JobType, result: unknown): Promise<Transition> {
    return this.transition(id, type, 'DONE', { result: JSON.stringify(result ?? null) })
  }

  /** Given up for good (permanent error or attempts exhausted). */
  failed(id: string, type: JobType, error: string): Promise<Transition> {
    return this.transition(id, type, 'FAILED', { error })
  }

  /** The attempt failed and the broker will redeliver it later: waiting again, with the reason. */
  retrying(id: string, type: JobType, error: string): Promise<Transition> {
    return this.transition(id, type, 'QUEUED', { error })
  }

  /**
   * The owner gave up on the job: QUEUED, STARTED or IN_PROGRESS -> CANCELLED.
   * `applied` is false when it had already finished (DONE, FAILED, CANCELLED)
   * or no longer exists (then `doc` is undefined).
   */
  async cancel(id: string, type: JobType): Promise<{ applied: boolean; doc: JobStatusDoc | undefined }> {
    const t = await this.transition(id, type, 'CANCELLED', { mustExist: true })
    return { applied: t.applied, doc: t.doc.status ? t.doc : undefined }
  }

  /** Records one callback delivery attempt on the job (kept: the newest MAX_DELIVERY_ATTEMPTS_KEPT). */
  async recordDelivery(id: string, attempt: DeliveryAttempt): Promise<void> {
    await this.deliveryCommand(this.key(id), JSON.stringify(attempt), String(MAX_DELIVERY_ATTEMPTS_KEPT), String(this.ttlSeconds))
  }

  /**
   * Claims an Idempotency-Key for a new job: returns undefined when this call
   * won it, or the value stored by the request that did (SET NX, same TTL as a job).
   */
  async claimIdempotencyKey(keyHash: string, value: string): Promise<string | undefined> {
    const key = `${this.prefix}idem:${keyHash}`
    const won = await this.redis.set(key, value, 'EX', this.ttlSeconds, 'NX')
    if (won === 'OK') return undefined
    const existing = await this.redis.get(key)
    // Expired between SET and GET: treat as ours rather than failing the request.
    if (existing === null) return this.claimIdempotencyKey(keyHash, value)
    return existing
  }

  /** Frees a key whose job was never accepted, so the client's retry can succeed. */
  async releaseIdempotencyKey(keyHash: string): Promise<void> {
    await this.redis.del(`${this.prefix}idem:${keyHash}`)
  }

  private async transition(
    id: string,
    type: JobType,
    status: JobStatus,
    opts: { bumpAttempts?: boolean; result?: string; error?: string; mustExist?: boolean; revive?: boolean }
  ): Promise<Transition> {
    const [applied, flat] = await this.transitionCommand(
      this.key(id), status, new Date().toISOString(), String(this.ttlSeconds), type,
      opts.bumpAttempts ? '1' : '0', opts.result ?? '', opts.error ?? '', opts.mustExist ? '1' : '0', opts.revive ? '1' : '0'
    )
    const fields: Record<string, string> = {}
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!
    const doc = toDoc(id, fields)
    if (applied === 1) this.report(doc)
    return { applied: applied === 1, doc }
  }
}

/**
 * Where a status stands in one job's life, so two reports of it can be put
 * in order without clocks: QUEUED (0 attempts) < STARTED < IN_PROGRESS <
 * QUEUED again after that attempt failed < the next STARTED ... < a final
 * status. Only a dead letter's replay restarts a FAILED job, and FAILED ends
 * every status stream first.
 */
export function jobStepRank(status: string, attempts: number): number {
  if (TERMINAL.has(status)) return Number.MAX_SAFE_INTEGER
  const phase = status === 'STARTED' ? 1 : status === 'IN_PROGRESS' ? 2 : attempts > 0 ? 3 : 0
  return attempts * 4 + phase
}

/** True for a status a job never leaves. */
export function isTerminalStatus(status: string): boolean {
  return TERMINAL.has(status)
}

/** A job's status as the subject, owner and data of a `job.status` event (docs/events.md). */
export function jobStatusEvent(doc: JobStatusDoc): { subject: string; userId?: string; data: Record<string, unknown> } {
  const data: Record<string, unknown> = { jobId: doc.id, jobType: doc.type, status: doc.status, attempts: doc.attempts }
  if (doc.error !== undefined) data.error = doc.error
  if (TERMINAL.has(doc.status)) data.durationMs = Date.parse(doc.updatedAt) - Date.parse(doc.createdAt)
  return { subject: `job:${doc.id}`, ...(doc.owner ? { userId: doc.owner } : {}), data }
}

function toDoc(id: string, fields: Record<string, string>): JobStatusDoc {
  const doc: JobStatusDoc = {
    id,
    type: fields.type as JobType,
    status: fields.status as JobStatus,
    attempts: Number(fields.attempts ?? 0),
    createdAt: fields.createdAt ?? '',
    updatedAt: fields.updatedAt ?? ''
  }
  if (fields.result !== undefined) doc.result = JSON.parse(fields.result) as unknown
  if (fields.error !== undefined) doc.error = fields.error
  if (fields.owner !== undefined) doc.owner = fields.owner
  if (fields.deliveries !== undefined) doc.deliveries = JSON.parse(fields.deliveries) as DeliveryAttempt[]
  return doc
}
