import type Redis from 'ioredis'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { JobType } from '@socialnet/jobs'
import { JobRateLimitedError } from '../errors'

/** The limits per user; 0 turns one off (benchmarks, load tests), like RATE_LIMIT_RPS. */
export interface JobRateLimits {
  /** Jobs of any type per minute (JOB_RATE_PER_MINUTE). */
  perMinute: number
  /** `email` jobs per hour (JOB_EMAIL_RATE_PER_HOUR): each one is a mail sent under our name. */
  emailPerHour: number
}

/*
 * One fixed window: the first hit starts it with its TTL, later hits count in
 * it. KEYS[1] counter; ARGV[1] window in ms. Returns {count, ms left}.
 */
const HIT_LUA = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
`

type HitCommand = (key: string, windowMs: string) => Promise<[number, number]>

/**
 * Per-user job rate in Redis, so it holds across api replicas. A fixed
 * window per user and limit (a burst at a window's edge can reach twice the
 * limit for a moment, never more); the API-wide per-IP limit still applies
 * on top. Keyed on the user id, so logging in again does not reset it.
 */
export class JobRateLimiter {
  private readonly hit: HitCommand

  constructor(redis: Redis, private readonly opts: JobRateLimits & { prefix: string }) {
    if (!('jobRateHit' in redis)) redis.defineCommand('jobRateHit', { numberOfKeys: 1, lua: HIT_LUA })
    this.hit = (redis as unknown as { jobRateHit: HitCommand }).jobRateHit.bind(redis)
  }

  /** Counts one job of `type` for `userId`; throws JobRateLimitedError once a limit is reached. */
  async take(userId: string, type: JobType): Promise<void> {
    await this.count(userId, 'jobs', this.opts.perMinute, 60, 'jobs per minute')
    if (type === 'email') await this.count(userId, 'email', this.opts.emailPerHour, 3600, 'email jobs per hour')
  }

  private async count(userId: string, bucket: string, limit: number, windowSeconds: number, what: string): Promise<void> {
    if (limit === 0) return
    const [count, msLeft] = await this.hit(`${this.opts.prefix}rate:${bucket}:${userId}`, String(windowSeconds * 1000))
    if (count > limit) {
      const retryAfter = Math.max(1, Math.ceil(msLeft / 1000))
      throw new JobRateLimitedError(`too many jobs: at most ${limit} ${what} per user; retry in ${retryAfter} s`, retryAfter)
    }
  }
}

/** onError hook for the job routes: a 429 from the limiter carries its Retry-After. */
export async function retryAfterHeader(_request: FastifyRequest, reply: FastifyReply, err: FastifyError): Promise<void> {
  if (err instanceof JobRateLimitedError) void reply.header('retry-after', String(err.retryAfterSeconds))
}
