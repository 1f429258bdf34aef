import { hashApiKey } from './keys'
import type { ActiveApiKey } from './repository'

export interface ApiKeyCacheOptions {
  /** How long an answer (valid or not) is reused; a revocation takes effect within this time. 0 = no cache. */
  ttlMs: number
  /** Bound on remembered keys, so a stream of made-up keys cannot grow memory. */
  maxEntries: number
  now?: () => number
}

interface Entry {
  expiresAt: number
  result: Promise<ActiveApiKey | undefined>
  /** Set once `result` resolved: what peek() answers without a promise. */
  settled?: { key: ActiveApiKey | undefined }
}

/**
 * Verifies API keys through a short-lived in-process cache: a busy key costs
 * one Postgres round trip per `ttlMs` instead of one per request, and lookups
 * of the same key that arrive together share one query. A failed lookup (the
 * database is down) is not remembered. Entries are found by the key as sent,
 * so a cached key costs no SHA-256 (that hash was the largest single item of
 * the api's CPU per cached GET); the key itself is in this process's memory
 * for each request anyway, and here for at most `ttlMs`.
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, Entry>()
  private readonly now: () => number

  constructor(private readonly lookup: (hash: Buffer) => Promise<ActiveApiKey | undefined>, private readonly opts: ApiKeyCacheOptions) {
    this.now = opts.now ?? Date.now
  }

  /**
   * The cached answer for `key` when there is a fresh, settled one (`{ key: undefined }`: unknown or
   * revoked), else undefined: then verify() it. Lets a caller answer a busy key without a promise.
   */
  peek(key: string): { key: ActiveApiKey | undefined } | undefined {
    if (this.opts.ttlMs <= 0) return undefined
    const cached = this.entries.get(key)
    return cached && cached.expiresAt > this.now() ? cached.settled : undefined
  }

  /** The key's id and scopes, or undefined when it is unknown or revoked. */
  verify(key: string): Promise<ActiveApiKey | undefined> {
    if (this.opts.ttlMs <= 0) return this.lookup(hashApiKey(key))
    const now = this.now()
    const cached = this.entries.get(key)
    if (cached && cached.expiresAt > now) return cached.result
    if (cached) this.entries.delete(key)
    if (this.entries.size >= this.opts.maxEntries) this.entries.delete(this.entries.keys().next().value!)
    const result = this.lookup(hashApiKey(key))
    const entry: Entry = { expiresAt: now + this.opts.ttlMs, result }
    this.entries.set(key, entry)
    result.then((found) => { entry.settled = { key: found } }, () => { if (this.entries.get(key) === entry) this.entries.delete(key) })
    return result
  }
}
