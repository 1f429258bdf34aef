import type Redis from 'ioredis'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible'

export interface CountBudgetOptions {
  /** Redis key prefix of this budget's counters (each key is `<prefix>:<key>`). */
  keyPrefix: string
  /** Takes allowed per key and window; 0 turns the budget off. */
  limit: number
  windowSeconds: number
}

/**
 * A number of takes per key and fixed window, counted in Redis
 * (rate-limiter-flexible) so it holds across api replicas. While Redis is
 * away each replica counts in memory instead (the library's insurance
 * limiter): the budget loosens by the number of replicas, it never fails
 * a request and never turns off.
 */
export class CountBudget {
  private readonly limiter: RateLimiterRedis | undefined

  constructor(redis: Redis, private readonly opts: CountBudgetOptions) {
    if (opts.limit === 0) return
    const shape = { points: opts.limit, duration: opts.windowSeconds }
    this.limiter = new RateLimiterRedis({
      ...shape,
      storeClient: redis,
      keyPrefix: opts.keyPrefix,
      insuranceLimiter: new RateLimiterMemory({ ...shape, keyPrefix: opts.keyPrefix })
    })
  }

  /** Takes per key and window (0 = off). */
  get limit(): number {
    return this.opts.limit
  }

  /** Counts one take for `key`: 0 when within the budget, else the seconds until the window ends. */
  async take(key: string): Promise<number> {
    if (!this.limiter) return 0
    try {
      await this.limiter.consume(key, 1)
      return 0
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) throw res
      return Math.max(1, Math.ceil(res.msBeforeNext / 1000))
    }
  }

  /** Gives back a take that bought nothing (the mail it paid for was not queued). */
  async giveBack(key: string): Promise<void> {
    if (this.limiter) await this.limiter.reward(key, 1)
  }
}
