import { createHash, randomBytes } from 'node:crypto'

/** Every scope a key can carry. */
export const API_KEY_SCOPES = ['kv:read', 'kv:write'] as const
export type ApiKeyScope = typeof API_KEY_SCOPES[number]

/** Recognisable prefix, so a leaked key is easy to spot in logs, repos and secret scanners. */
export const API_KEY_PREFIX = 'snk_'
const SECRET_BYTES = 32
const HINT_CHARS = 6
const KEY_PATTERN = /^snk_[A-Za-z0-9_-]{43}$/

/** A new key: the secret to show once, the hash to store, and a short hint to tell keys apart. */
export function mintApiKey(): { key: string; hash: Buffer; hint: string } {
  const key = API_KEY_PREFIX + randomBytes(SECRET_BYTES).toString('base64url')
  return { key, hash: hashApiKey(key), hint: key.slice(0, API_KEY_PREFIX.length + HINT_CHARS) }
}

/**
 * SHA-256 of the key. Enough for 256 random bits: nobody can guess a key from
 * its hash, so the salt and work factor a password hash needs would only add
 * latency to every request.
 */
export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest()
}

/** Whether `key` has the shape mintApiKey makes; anything else is refused without a database lookup. */
export function isWellFormedApiKey(key: string): boolean {
  return KEY_PATTERN.test(key)
}

/**
 * Whether a key with `granted` scopes may do what `needed` guards. `kv:write`
 * includes `kv:read`: a client that may overwrite and delete every value gains
 * no power worth withholding by also reading them, and one key per client is
 * what people expect from a `write` scope.
 */
export function scopeAllows(granted: readonly string[], needed: ApiKeyScope): boolean {
  return granted.includes(needed) || (needed === 'kv:read' && granted.includes('kv:write'))
}
