import { createHash, randomBytes } from 'node:crypto'
import type Redis from 'ioredis'

/** Who a valid token belongs to. */
export interface Session {
  userId: string
  expiresAt: Date
  /** SHA-256 of the token: identifies the session without keeping the token itself. */
  tokenHash: string
}

/** 32 random bytes, base64url: 43 characters, nothing else is a token. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/**
 * Login sessions in Redis, so every api replica sees them and a logout is
 * immediate everywhere. Tokens are opaque random strings; only their SHA-256
 * is stored (a Redis dump cannot be replayed as logins), and each key expires
 * with the session.
 */
export class SessionStore {
  constructor(private readonly redis: Redis, private readonly opts: { prefix: string; ttlSeconds: number }) {}

  private key(tokenHash: string): string {
    return `${this.opts.prefix}session:${tokenHash}`
  }

  /** Starts a session for `userId`; the token is returned once and never stored. */
  async create(userId: string): Promise<{ token: string; expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url')
    const expiresAt = new Date(Date.now() + this.opts.ttlSeconds * 1000)
    await this.redis.set(this.key(hashToken(token)), JSON.stringify({ userId, expiresAt: expiresAt.toISOString() }), 'EX', this.opts.ttlSeconds)
    return { token, expiresAt }
  }

  /** The session of a token, or undefined when it is malformed, unknown, revoked or expired. */
  async find(token: string): Promise<Session | undefined> {
    if (!TOKEN_PATTERN.test(token)) return undefined
    const tokenHash = hashToken(token)
    const stored = await this.redis.get(this.key(tokenHash))
    if (stored === null) return undefined
    const { userId, expiresAt } = JSON.parse(stored) as { userId: string; expiresAt: string }
    return { userId, expiresAt: new Date(expiresAt), tokenHash }
  }

  /** Ends a session; ending one that is already gone is fine. */
  async revoke(session: Session): Promise<void> {
    await this.redis.del(this.key(session.tokenHash))
  }
}
