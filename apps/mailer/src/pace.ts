import { DeferredError } from '@socialnet/broker'
import { domainOf } from '@socialnet/sender'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible'
import { FailureCode } from './errors'
import type { MailerMetrics } from './metrics'
import { describeSmtpError, smtpFailureCode } from './smtp'

/** The slowest a domain gets after 4xx replies: level 3 spends 2^3 tokens a mail, an eighth of its pace. */
export const MAX_PACE_LEVEL = 3
/** A slowed domain is back at full pace after this long without a 4xx. */
export const DEFAULT_PACE_QUIET_MS = 5 * 60_000

/** Options of a DomainPace. */
export interface DomainPaceOptions {
  /** The mailer's one Redis client, opened and closed by the service. */
  redis: Redis
  /** Prefix of every Redis key (the deployment's AMQP_PREFIX, so tests and stacks sharing a Redis stay apart). */
  keyPrefix: string
  /** Mails a minute to a domain not in `rates`; 0 = unpaced. */
  ratePerMinute: number
  /** Per-domain overrides (lower-cased domain -> mails a minute; 0 = unpaced). */
  rates: ReadonlyMap<string, number>
  quietMs?: number
  log: Logger
  metrics: MailerMetrics
}

/** One pace as a fixed-window bucket: `points` tokens every `durationS` seconds. */
export interface PaceWindow {
  points: number
  durationS: number
}

/**
 * The bucket of a pace of `ratePerMinute`. The library's windows are whole
 * seconds, and a window must hold at least 2^MAX_PACE_LEVEL tokens or a
 * slowed domain could never afford a mail; so the window is the shortest that
 * holds that many, lengthened (up to twice) where that makes the rate exact.
 */
export function paceWindow(ratePerMinute: number): PaceWindow {
  const shortest = Math.max(1, Math.ceil((2 ** MAX_PACE_LEVEL * 60) / ratePerMinute))
  let durationS = shortest
  for (let d = shortest; d <= 2 * shortest; d++) {
    if ((ratePerMinute * d) % 60 === 0) {
      durationS = d
      break
    }
  }
  return { points: Math.max(1, Math.round((ratePerMinute * durationS) / 60)), durationS }
}

/**
 * The pace of each receiving domain, shared through Redis by every mailer
 * replica. A mail costs 2^level tokens of its domain's bucket, where the
 * level (0 = full pace) rises by one on a 4xx reply, up to MAX_PACE_LEVEL,
 * and falls back to 0 once the domain stayed quiet for `quietMs` (the level
 * key's TTL, renewed by each 4xx). A mail its domain cannot afford is not
 * waited for here: `admit` throws a DeferredError and the consumer parks the
 * message, so one slow domain never holds the slots other domains' mail needs.
 *
 * The bucket is rate-limiter-flexible's RateLimiterRedis (atomic in Redis);
 * the level is two plain keys. When Redis is unreachable each mailer falls
 * back to its own in-memory bucket of the same size (the library's insurance
 * limiter): paced per replica rather than not at all.
 */
/** How long a mailer trusts the level it read for a domain. */
const LEVEL_CACHE_MS = 1000
const LEVEL_CACHE_DOMAINS = 10_000

export class DomainPace {
  private readonly limiters = new Map<number, { limiter: RateLimiterRedis; window: PaceWindow }>()
  private readonly quietMs: number
  private readonly slowed = new Set<string>()
  // Each domain's level as last read, for LEVEL_CACHE_MS: a level changes only on a 4xx, so
  // reading it from Redis for every mail would double the round trips of the hot path.
  private readonly levels = new Map<string, { level: number; until: number }>()

  constructor(private readonly options: DomainPaceOptions) {
    this.quietMs = options.quietMs ?? DEFAULT_PACE_QUIET_MS
  }

  /** Mails a minute to `domain` at full pace; 0 = unpaced. */
  rateOf(domain: string): number {
    return this.options.rates.get(domain) ?? this.options.ratePerMinute
  }

  /**
   * Takes the tokens of one mail to `to`'s domain, or throws a DeferredError
   * whose delay lands the message in the window that has tokens for it.
   */
  async admit(to: string): Promise<void> {
    const domain = domainOf(to)
    const rate = this.rateOf(domain)
    if (domain === '' || rate === 0) return
    const level = await this.level(domain)
    const { limiter, window } = this.bucket(rate)
    try {
      await limiter.consume(domain, 2 ** level)
    } catch (res) {
      // Only a refusal is a RateLimiterRes; a store error with the insurance down too is not worth a lost mail.
      if (!(res instanceof RateLimiterRes)) {
        this.options.log.warn({ err: res, domain }, 'domain pace unavailable; sending unpaced')
        return
      }
      this.options.metrics.throttle('pace')
      throw new DeferredError(`${domain} is out of sending tokens (${rate}/min, level ${level})`, {
        code: FailureCode.MAIL_THROTTLED,
        delayMs: waitForTokens(res, window, limiter.points),
        scope: domain
      })
    }
  }

  /**
   * Told of a failed send: a 4xx reply slows the recipient's domain. A 421
   * (the domain's server says "not now" for all its mail) returns a
   * DeferredError to throw instead of a failed attempt, so a domain that
   * refuses for a long while loses none of its mail; any other 4xx is about
   * this mail and stays a retry.
   */
  async refused(to: string, err: unknown): Promise<DeferredError | undefined> {
    const code = (err as { responseCode?: unknown } | null)?.responseCode
    if (typeof code !== 'number' || code < 400 || code >= 500) return undefined
    const domain = domainOf(to)
    const rate = this.rateOf(domain)
    if (domain === '' || rate === 0) return undefined
    const level = await this.slowDown(domain, code)
    if (code !== 421) return undefined
    this.options.metrics.throttle('smtp_421')
    // A window per level: 2 s, 4 s, 8 s at 600/min; the half-jitter spreads the mails refused together.
    const delayMs = Math.round(this.bucket(rate).window.durationS * 1000 * 2 ** level * (0.5 + Math.random() * 0.5))
    return new DeferredError(`${domain} answered 421, waiting: ${describeSmtpError(err)}`, { code: smtpFailureCode(err), delayMs, scope: domain, cause: err })
  }

  // One raise per window (10 s at most) however many mails in flight got the 4xx at once:
  // the guard key (SET NX) lets the first through; the others only renew the quiet period.
  private async slowDown(domain: string, code: number): Promise<number> {
    const { redis, keyPrefix, log, metrics } = this.options
    const levelKey = `${keyPrefix}pace-level:${domain}`
    const guardMs = Math.min(this.bucket(this.rateOf(domain)).window.durationS * 1000, 10_000)
    try {
      const guard = await redis.set(`${keyPrefix}pace-raise:${domain}`, '1', 'PX', guardMs, 'NX')
      if (guard !== 'OK') {
        await redis.pexpire(levelKey, this.quietMs)
        return await this.level(domain, true)
      }
      const raised = await redis.multi().incr(levelKey).pexpire(levelKey, this.quietMs).exec()
      let level = Number(raised?.[0]?.[1] ?? 1)
      if (level > MAX_PACE_LEVEL) {
        level = MAX_PACE_LEVEL
        await redis.set(levelKey, String(level), 'PX', this.quietMs)
      }
      metrics.slowDown()
      this.remember(domain, level)
      log.warn({ domain, level, smtpCode: code, ratePerMinute: this.rateOf(domain) / 2 ** level, quietMs: this.quietMs }, 'domain answered 4xx; slowing its pace')
      return level
    } catch (err) {
      log.warn({ err, domain }, 'could not record the slow-down of a domain')
      return 0
    }
  }

  // The level a mail pays at now, as read at most LEVEL_CACHE_MS ago (another replica's raise
  // reaches this one within that); Redis unreachable = full pace (the insurance bucket still paces).
  private async level(domain: string, fresh = false): Promise<number> {
    const now = Date.now()
    const cached = this.levels.get(domain)
    if (!fresh && cached && cached.until > now) return cached.level
    let level = 0
    try {
      level = Math.min(MAX_PACE_LEVEL, Math.max(0, Number(await this.options.redis.get(`${this.options.keyPrefix}pace-level:${domain}`)) || 0))
    } catch {
      // Redis is away (the service logs its client's errors): full pace, and the insurance bucket still paces.
    }
    this.remember(domain, level)
    return level
  }

  private remember(domain: string, level: number): void {
    // Bounded: a mailer that has mailed very many domains starts its cache afresh.
    if (this.levels.size >= LEVEL_CACHE_DOMAINS) this.levels.clear()
    // Never trusted past the quiet period, which is when a level falls back to 0.
    this.levels.set(domain, { level, until: Date.now() + Math.min(LEVEL_CACHE_MS, this.quietMs) })
    this.report(domain, level)
  }

  // The gauge names only domains slowed right now, so its label set stays small.
  private report(domain: string, level: number): void {
    if (level > 0) {
      this.slowed.add(domain)
      this.options.metrics.paceLevel(domain, level)
    } else if (this.slowed.delete(domain)) {
      this.options.metrics.paceLevel(domain, 0)
    }
  }

  private bucket(rate: number): { limiter: RateLimiterRedis; window: PaceWindow } {
    let bucket = this.limiters.get(rate)
    if (!bucket) {
      const window = paceWindow(rate)
      const limiter = new RateLimiterRedis({
        storeClient: this.options.redis,
        keyPrefix: `${this.options.keyPrefix}pace:${rate}`,
        points: window.points,
        duration: window.durationS,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({ points: window.points, duration: window.durationS })
      })
      bucket = { limiter, window }
      this.limiters.set(rate, bucket)
    }
    return bucket
  }
}

/**
 * How long a refused mail should wait. A refused consume still counts its
 * tokens, so `consumedPoints` says how far past this window's tokens the
 * mail stands in line: the n-th window ahead is the one with tokens for it.
 * Sending each refused mail to its own window (not all to the next one)
 * keeps a backlog from circling through the broker every window.
 */
function waitForTokens(res: RateLimiterRes, window: PaceWindow, points: number): number {
  const windowsAhead = Math.max(1, Math.floor((res.consumedPoints - 1) / points))
  const jitter = Math.random() * window.durationS * 500
  return Math.round(res.msBeforeNext + (windowsAhead - 1) * window.durationS * 1000 + jitter)
}
