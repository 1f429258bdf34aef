import fp from 'fastify-plugin'
import { createHash, randomUUID } from 'node:crypto'
import { Counter } from 'prom-client'
import { BrokerError, USER_ID_HEADER } from '@socialnet/broker'
import { MalformedMessageError, validateMessage } from '@socialnet/contracts'
import {
  CallbackUrlError, FINAL_JOB_STATUSES, JOB_MESSAGE_TYPES, JobLogTotal, JobStatusStore, checkCallbackUrl, parseAllowHosts,
  type JobEventSink, type JobPage, type JobStatusDoc, type JobType
} from '@socialnet/jobs'
import { JobLogUsage, authorizeEmailJob, checkLogQuota } from './access'
import { JobRateLimiter, type JobRateLimits } from './rate-limiter'
import {
  BrokerUnavailableError, CallbackUrlRefusedError, IdempotencyKeyInFlightError, IdempotencyKeyReusedError, InvalidJobError,
  JobFinishedError, JobRateLimitedError
} from '../errors'

/** A job as the client described it (the route bodies, plus the book's client time). */
export type NewJob =
  | { type: 'log'; data: Record<string, unknown>; clientTime?: string }
  | { type: 'callback'; callbackUrl: string; data?: Record<string, unknown> }
  | { type: 'email'; to: string; subject: string; text: string; html?: string }

/** Who submits a job, and the key that makes a retry of the same request return the same job. */
export interface SubmitOptions {
  /** The caller's user id: the job's owner, the only one who may see it. */
  owner: string
  idempotencyKey?: string
}

/**
 * Submitting and reading jobs; the only code that writes a job's first
 * status and publishes it, and so the one place that decides who may submit
 * what (email recipients, log quota, per-user rate) and who may see a job.
 */
export interface JobService {
  store: JobStatusStore
  /**
   * Accepts a job: resolves only once the broker confirmed its message.
   * With an idempotency key, a repeat of the same request by the same user
   * returns the first job (`replayed: true`) instead of creating another.
   */
  submit(job: NewJob, opts: SubmitOptions): Promise<{ doc: JobStatusDoc; replayed: boolean }>
  /** The job's status if `owner` submitted it; undefined otherwise, so a stranger cannot tell it exists. */
  find(id: string, owner: string): Promise<JobStatusDoc | undefined>
  /** `owner`'s jobs still kept, newest first, a page at a time (`cursor`: the previous page's nextCursor). */
  list(owner: string, page: { cursor?: string; limit: number }): Promise<JobPage>
  /**
   * Cancels `owner`'s unfinished job (CANCELLED; a worker skips it, or aborts
   * its callback in flight). Undefined for a job that is not theirs;
   * JobFinishedError (409) for one that already finished.
   */
  cancel(id: string, owner: string): Promise<JobStatusDoc | undefined>
}

declare module 'fastify' {
  interface FastifyInstance {
    jobs: JobService
  }
}

export interface JobsPluginOptions {
  redisPrefix: string
  ttlSeconds: number
  /** CALLBACK_ALLOW_HOSTS: callback hosts accepted even if they are private addresses. */
  callbackAllowHosts: string
  /** JOB_RATE_PER_MINUTE and JOB_EMAIL_RATE_PER_HOUR. */
  rate: JobRateLimits
  /** JOB_LOG_QUOTA_BYTES: `log` job data each user may keep. */
  logQuotaBytes: number
  /** JOB_LOG_MAX_TOTAL_BYTES: `log` job data all users together may keep; and how often that total is read. */
  logMaxTotalBytes: number
  logTotalRefreshMs: number
  /** Where the status store reports each status it writes (`job.status` QUEUED from the api). */
  events?: JobEventSink
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

/**
 * JSON with object keys sorted at every depth: the same request sent with its
 * fields in another order is the same request (JSON.stringify would make it a
 * "different body" and answer 422 to an honest retry).
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
    return `{${entries.join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/** The jobs_submitted_total label of a submission that was not accepted. */
function outcomeOf(err: unknown): 'rate_limited' | 'refused' | 'unavailable' {
  if (err instanceof JobRateLimitedError) return 'rate_limited'
  const status = (err as { statusCode?: number }).statusCode
  return status !== undefined && status < 500 ? 'refused' : 'unavailable'
}

/** The job service on `fastify.jobs`: status store (shared Redis client) + the api's one publisher. */
export default fp(async function jobs(fastify, opts: JobsPluginOptions) {
  const store = new JobStatusStore(fastify.redis, { prefix: opts.redisPrefix, ttlSeconds: opts.ttlSeconds, events: opts.events })
  const limiter = new JobRateLimiter(fastify.redis, { prefix: opts.redisPrefix, ...opts.rate })
  const allowHosts = parseAllowHosts(opts.callbackAllowHosts)
  const logTotal = new JobLogTotal(fastify.db, opts.logMaxTotalBytes, opts.logTotalRefreshMs)
  const logUsage = new JobLogUsage(fastify.db, opts.logTotalRefreshMs)
  const { connection, publisher } = fastify.broker
  const submitted = new Counter({
    name: 'jobs_submitted_total',
    help: 'Job submissions by type and outcome (accepted, replayed, refused, rate_limited, unavailable)',
    labelNames: ['type', 'result'],
    registers: [fastify.metrics.registry]
  })

  /** The message payload, checked against its contract so a job the worker would dead-letter is a 400 here. */
  function messageFor(id: string, job: NewJob, owner: string): unknown {
    const { type, ...fields } = job
    if (type === 'callback') {
      try {
        // DNS-free check now (a quick 400 for literal private addresses and bad schemes);
        // the worker resolves and checks every address again right before sending.
        checkCallbackUrl(job.callbackUrl, allowHosts)
      } catch (err) {
        if (err instanceof CallbackUrlError) throw new CallbackUrlRefusedError(err.message)
        throw err
      }
    }
    try {
      // A log row is counted against its owner's quota, so the worker must know who that is.
      const owned = type === 'log' ? { ...fields, ownerId: owner } : fields
      return validateMessage(JOB_MESSAGE_TYPES[type], { ...owned, jobId: id })
    } catch (err) {
      if (err instanceof MalformedMessageError) throw new InvalidJobError(err.message.replace(/^job\.\w+\.v1: \//, ''))
      throw err
    }
  }

  async function publish(id: string, type: JobType, payload: unknown, owner: string): Promise<void> {
    // Fail fast while RabbitMQ is away: the publisher would otherwise hold the
    // request until its confirm timeout before we could say 503.
    if (!connection.isConnected) throw new BrokerUnavailableError('not connected')
    try {
      await publisher.publish({ type: JOB_MESSAGE_TYPES[type], messageId: id, payload: payload as never, headers: { [USER_ID_HEADER]: owner } })
    } catch (err) {
      if (err instanceof BrokerError) throw new BrokerUnavailableError(err.message)
      throw err
    }
  }

  /** 403/429/507 before the job is stored: may `owner` send this mail, keep this much log data? Resolves with the log bytes it would keep. */
  async function authorize(job: NewJob, owner: string): Promise<number> {
    if (job.type === 'email') await authorizeEmailJob(fastify.db, owner, job.to)
    return job.type === 'log' ? checkLogQuota(logUsage, owner, job.data, opts.logQuotaBytes, logTotal) : 0
  }

  const service: JobService = {
    store,
    async submit(job, { owner, idempotencyKey }) {
      const id = randomUUID()
      const payload = messageFor(id, job, owner)
      let keyHash: string | undefined
      if (idempotencyKey !== undefined) {
        // Scoped to the user: two users picking the same key get their own jobs, and
        // nobody learns another user's job id by guessing their key.
        keyHash = sha256(`${owner}\n${idempotencyKey}`)
        const fingerprint = sha256(canonicalJson(job))
        const claimed = await store.claimIdempotencyKey(keyHash, `${id} ${fingerprint}`)
        if (claimed !== undefined) {
          const [firstId, firstFingerprint] = claimed.split(' ')
          if (firstFingerprint !== fingerprint) throw new IdempotencyKeyReusedError()
          const doc = await store.get(firstId!)
          if (!doc) throw new IdempotencyKeyInFlightError()
          // A replay is not a new job: it was judged when it was made, and costs no rate.
          submitted.inc({ type: job.type, result: 'replayed' })
          return { doc, replayed: true }
        }
      }
      let doc: JobStatusDoc | undefined
      let logBytes: number
      try {
        logBytes = await authorize(job, owner)
        await limiter.take(owner, job.type)
        // QUEUED goes in before the publish: a fast worker must find the job.
        doc = await store.create(id, job.type, { owner })
        await publish(id, job.type, payload, owner)
      } catch (err) {
        // Not accepted: forget the job and free the key so the client's retry works.
        // (After a confirm timeout the message may still arrive; the worker then
        // recreates the status and runs it: at-least-once, never silently lost.)
        if (doc) await store.remove(id, owner).catch(() => {})
        if (keyHash) await store.releaseIdempotencyKey(keyHash).catch(() => {})
        submitted.inc({ type: job.type, result: outcomeOf(err) })
        throw err
      }
      // Counted until the next reads see the row: a burst within one refresh cannot pass the cap or the quota.
      if (logBytes > 0) {
        logTotal.added(logBytes)
        logUsage.added(owner, logBytes)
      }
      submitted.inc({ type: job.type, result: 'accepted' })
      return { doc, replayed: false }
    },
    async find(id, owner) {
      const doc = await store.get(id)
      return doc?.owner === owner ? doc : undefined
    },
    list(owner, page) {
      return store.listByOwner(owner, page)
    },
    async cancel(id, owner) {
      const doc = await service.find(id, owner)
      if (!doc) return undefined
      if (FINAL_JOB_STATUSES.includes(doc.status)) throw new JobFinishedError(doc.status)
      // Atomic in Redis: a job that finished since the read above is not dragged back.
      const cancelled = await store.cancel(id, doc.type)
      if (!cancelled.doc) return undefined
      if (!cancelled.applied) throw new JobFinishedError(cancelled.doc.status)
      return cancelled.doc
    }
  }
  fastify.decorate('jobs', service)
}, { name: 'jobs', dependencies: ['redis', 'db', 'broker', 'metrics'] })
