import { createHash } from 'node:crypto'
import type Redis from 'ioredis'
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible'
import { foldLogin } from '../users/login-fold'
import { clientNetwork } from '../users/client-network'

/** Login protection settings; the counters live in Redis so they hold across api replicas. */
export interface LoginLimits {
  prefix: string
  /** Consecutive failures of one login from one client IP before that pair is blocked. */
  maxConsecutiveFailures: number
  /** Failures from one client IP in a day, whatever the login, before the IP is blocked for a day. */
  maxFailuresPerIpPerDay: number
  /** The first block of a (login, IP) pair; each further block within a day doubles it, up to a day. */
  blockSeconds: number
  /** Failed logins of one account in a day, from anywhere, at which its owner is told by mail; 0 = never. */
  alertAfterFailures: number
}

const DAY_SECONDS = 24 * 3600
/** A pair's failures are remembered this long after the first one, unless a success or a block ends them first. */
const CONSECUTIVE_MEMORY_SECONDS = 90 * DAY_SECONDS

/**
 * Whose failures an attempt counts against: the account the login found (any
 * of its spellings, e-mail or nickname, count together), or, when it found
 * none, the folded login itself, so an unknown login is limited exactly like a
 * real one and the 429 reveals nothing.
 */
export type LoginSubject = { userId: string } | { unknownLogin: string }

/**
 * rate-limiter-flexible's brute-force protection for the login route:
 * consecutive failures per (account, client IP) pair with a block that grows
 * each time the pair is blocked again, and failures per client IP per day.
 * Only the pair a stranger uses is blocked: the owner, from their own
 * address, still logs in at the first try, however many wrong passwords
 * others sent for their nickname from elsewhere. A client is its IPv4 address
 * or its IPv6 /64 (clientNetwork), as for sign-ups.
 */
export class LoginLimiter {
  private readonly pairs: RateLimiterRedis
  private readonly pairBlocks: RateLimiterRedis
  private readonly ips: RateLimiterRedis
  private readonly accountFailures: RateLimiterRedis | undefined

  constructor(redis: Redis, private readonly limits: LoginLimits) {
    this.pairs = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${limits.prefix}login:pair`,
      points: limits.maxConsecutiveFailures,
      duration: CONSECUTIVE_MEMORY_SECONDS
    })
    // How often the pair was blocked in the last day: sets the length of its next block.
    this.pairBlocks = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${limits.prefix}login:pair-blocks`,
      points: Number.MAX_SAFE_INTEGER,
      duration: DAY_SECONDS
    })
    this.ips = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${limits.prefix}login:ip`,
      points: limits.maxFailuresPerIpPerDay,
      duration: DAY_SECONDS,
      blockDuration: DAY_SECONDS
    })
    this.accountFailures = limits.alertAfterFailures > 0
      ? new RateLimiterRedis({ storeClient: redis, keyPrefix: `${limits.prefix}login:account-failures`, points: limits.alertAfterFailures, duration: DAY_SECONDS })
      : undefined
  }

  private pairKey(subject: LoginSubject, ip: string): string {
    const account = 'userId' in subject
      ? `user:${subject.userId}`
      : `unknown:${createHash('sha256').update(foldLogin(subject.unknownLogin)).digest('hex')}`
    return `${account}:${clientNetwork(ip)}`
  }

  /**
   * Counts an attempt before its password is checked (so parallel guesses
   * cannot all slip past a check made before any of them counted); returns the
   * seconds to wait when the pair or the IP is over its limit, else 0.
   */
  async attempt(subject: LoginSubject, ip: string): Promise<number> {
    const key = this.pairKey(subject, ip)
    const [pair, address] = await Promise.all([consume(this.pairs, key), consume(this.ips, clientNetwork(ip))])
    let pairWaitMs = 0
    if (!pair.allowed) {
      // The one attempt that crossed the limit blocks the pair; later ones wait out that block. Until the
      // block is set (a parallel attempt) the key's TTL is the failures' memory, so it is capped at a day.
      pairWaitMs = pair.res.consumedPoints === this.limits.maxConsecutiveFailures + 1
        ? await this.blockPair(key)
        : Math.min(pair.res.msBeforeNext, DAY_SECONDS * 1000)
    }
    const waitMs = Math.max(pairWaitMs, address.allowed ? 0 : address.res.msBeforeNext)
    return waitMs > 0 ? Math.ceil(waitMs / 1000) : 0
  }

  /** Blocks the pair for blockSeconds, doubled for each earlier block in the last day, at most a day; returns the ms. */
  private async blockPair(key: string): Promise<number> {
    const blocks = await this.pairBlocks.consume(key)
    const seconds = Math.min(this.limits.blockSeconds * 2 ** Math.min(blocks.consumedPoints - 1, 20), DAY_SECONDS)
    await this.pairs.block(key, seconds)
    return seconds * 1000
  }

  /**
   * A wrong password for an existing account: counts it against the account's
   * day, whatever the address. True exactly once a day, at the failure that
   * reaches alertAfterFailures: the one moment to tell the owner.
   */
  async failed(userId: string): Promise<boolean> {
    if (!this.accountFailures) return false
    const { allowed, res } = await consume(this.accountFailures, userId)
    return allowed && res.consumedPoints === this.limits.alertAfterFailures
  }

  /** A successful login: the pair's consecutive failures start over, and the attempt does not count against the IP. */
  async succeeded(subject: LoginSubject, ip: string): Promise<void> {
    await Promise.all([this.pairs.delete(this.pairKey(subject, ip)), this.ips.reward(clientNetwork(ip), 1)])
  }
}

/** consume() that answers a refusal instead of throwing it; a Redis error still throws. */
async function consume(limiter: RateLimiterRedis, key: string): Promise<{ allowed: boolean; res: RateLimiterRes }> {
  try {
    return { allowed: true, res: await limiter.consume(key) }
  } catch (err) {
    if (err instanceof RateLimiterRes) return { allowed: false, res: err }
    throw err
  }
}
