import type { Pool } from 'pg'
import { mintApiKey, type ApiKeyScope } from './keys'

/** An api_keys row without its hash: what an operator may see. */
export interface ApiKey {
  id: string
  name: string
  /** The first characters of the key (`snk_AbCdEf`), to tell keys apart. */
  hint: string
  scopes: string[]
  createdAt: Date
  lastUsedAt: Date | null
  revokedAt: Date | null
}

/** What a request needs to know about a valid key. */
export interface ActiveApiKey {
  id: string
  scopes: string[]
}

const COLUMNS = 'id::text AS id, name, hint, scopes, created_at AS "createdAt", last_used_at AS "lastUsedAt", revoked_at AS "revokedAt"'

/** Stores a new key's hash and returns the row with the key itself, which is never stored or shown again. */
export async function createApiKey(db: Pool, opts: { name: string; scopes: ApiKeyScope[] }): Promise<{ apiKey: ApiKey; key: string }> {
  const { key, hash, hint } = mintApiKey()
  const { rows } = await db.query<ApiKey>(
    `INSERT INTO api_keys (name, key_hash, hint, scopes) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
    [opts.name, hash, hint, [...new Set(opts.scopes)]])
  return { apiKey: rows[0]!, key }
}

/** Every key, newest first, revoked ones included (so an operator sees what was revoked when). */
export async function listApiKeys(db: Pool): Promise<ApiKey[]> {
  const { rows } = await db.query<ApiKey>(`SELECT ${COLUMNS} FROM api_keys ORDER BY id DESC`)
  return rows
}

/**
 * Revokes a key, keeping the first revocation time; `wasRevoked` says it had
 * been revoked before. Undefined when no key has this id.
 */
export async function revokeApiKey(db: Pool, id: string): Promise<(ApiKey & { wasRevoked: boolean }) | undefined> {
  const { rows } = await db.query<ApiKey & { wasRevoked: boolean }>(
    `WITH target AS (SELECT id, revoked_at FROM api_keys WHERE id = $1)
     UPDATE api_keys k SET revoked_at = coalesce(k.revoked_at, now()) FROM target WHERE k.id = target.id
     RETURNING k.id::text AS id, k.name, k.hint, k.scopes, k.created_at AS "createdAt", k.last_used_at AS "lastUsedAt",
       k.revoked_at AS "revokedAt", target.revoked_at IS NOT NULL AS "wasRevoked"`, [id])
  return rows[0]
}

/**
 * The unrevoked key with this hash, marking it used in the same round trip.
 * Called on a cache miss only, so last_used_at is exact to the cache's lifetime.
 */
export async function useApiKey(db: Pool, hash: Buffer): Promise<ActiveApiKey | undefined> {
  const { rows } = await db.query<ActiveApiKey>(
    'UPDATE api_keys SET last_used_at = now() WHERE key_hash = $1 AND revoked_at IS NULL RETURNING id::text AS id, scopes', [hash])
  return rows[0]
}
