import { createHash } from 'node:crypto'
import type Redis from 'ioredis'
import { foldLogin } from '../users/login-fold'

/** Limits per window; counts live in Redis so they hold across api replicas. */
export interface LoginLimits {
  prefix: string
  maxPerAccount: number
  maxPerIp: number
  windowSeconds: number
}

// Counts the attempt against both keys first (so parallel guesses cannot slip
// past a check-then-count), starting a fixed window on the first one. Returns
// the ms until the window of a key over its limit ends, or 0 when allowed.
const HIT_SCRIPT = `
local a = redis.call('INCR', KEYS[1])
if a == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local i = redis.call('INCR', KEYS[2])
if i == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
local wait = 0
if a > tonumber(ARGV[2]) then wait = math.max(wait, redis.call('PTTL', KEYS[1])) end
if i > tonumber(ARGV[3]) then wait = math.max(wait, redis.call('PTTL', KEYS[2])) end
return wait
`

// Undoes a successful attempt's count: the account starts over, the IP keeps
// its failures. DECR only an existing key: one that expired meanwhile must not
// come back without a TTL.
const SUCCESS_SCRIPT = `
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('DECR', KEYS[2]) end
return 0
`

/**
 * Whose failures an attempt counts against: the account the login found (any
 * of its spellings, e-mail or nickname, count together), or, when it found
 * none, the folded login itself, so an unknown login is limited exactly like a
 * real one and the 429 reveals nothing.
 */
export type LoginSubject = { userId: string } | { unknownLogin: string }

/** Failed-login counters per account and per client IP. */
export class LoginLimiter {
  constructor(private readonly redis: Redis, private readonly limits: LoginLimits) {}

  private keys(subject: LoginSubject, ip: string): [string, string] {
    const account = 'userId' in subject
      ? `user:${subject.userId}`
      : `unknown:${createHash('sha256').update(foldLogin(subject.unknownLogin)).digest('hex')}`
    return [`${this.limits.prefix}login:account:${account}`, `${this.limits.prefix}login:ip:${ip}`]
  }

  /** Counts an attempt; returns the seconds to wait when over a limit, else 0. */
  async attempt(subject: LoginSubject, ip: string): Promise<number> {
    const [account, address] = this.keys(subject, ip)
    const waitMs = await this.redis.eval(HIT_SCRIPT, 2, account, address,
      this.limits.windowSeconds * 1000, this.limits.maxPerAccount, this.limits.maxPerIp) as number
    return waitMs > 0 ? Math.ceil(waitMs / 1000) : 0
  }

  /** A successful login: its attempt was not a failure, and the account's count starts over. */
  async succeeded(subject: LoginSubject, ip: string): Promise<void> {
    const [account, address] = this.keys(subject, ip)
    await this.redis.eval(SUCCESS_SCRIPT, 2, account, address)
  }
}
