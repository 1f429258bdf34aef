import type { Pool } from 'pg'
import { API_KEY_SCOPES, type ApiKeyScope } from '../api-keys/keys'
import { createApiKey, listApiKeys, revokeApiKey, type ApiKey } from '../api-keys/repository'
import { promoteToAdmin } from '../users/repository'

/** A mistake the operator can fix (unknown user, bad argument): printed as one line, exit 1. */
export class AdminError extends Error {}

/** Where a command writes: `out` is what scripts capture (the new key), `note` is for the person. */
export interface AdminOutput {
  out(line: string): void
  note(line: string): void
}

const NAME_MAX = 100

/** `promote <email>`: gives the user the admin role. */
export async function promote(db: Pool, io: AdminOutput, email: string | undefined): Promise<void> {
  if (!email) throw new AdminError('promote needs the e-mail address of a registered user: promote <email>')
  const user = await promoteToAdmin(db, email)
  if (!user) throw new AdminError(`no user with the e-mail address ${email}; register first (POST /v1/users)`)
  io.note(user.previousRole === 'admin' ? `${user.email} was already an admin` : `${user.email} is now an admin`)
}

/** `api-key create --scope S [--scope S] [--name label]`: prints the new key (on stdout, alone) once. */
export async function createKey(db: Pool, io: AdminOutput, opts: { scopes: string[]; name?: string }): Promise<void> {
  if (opts.scopes.length === 0) throw new AdminError(`api-key create needs at least one --scope (${API_KEY_SCOPES.join(', ')})`)
  const unknown = opts.scopes.filter((s) => !(API_KEY_SCOPES as readonly string[]).includes(s))
  if (unknown.length > 0) throw new AdminError(`unknown scope ${unknown.join(', ')}; allowed: ${API_KEY_SCOPES.join(', ')}`)
  const name = (opts.name ?? `created ${new Date().toISOString()}`).trim()
  // eslint-disable-next-line no-control-regex
  if (name.length === 0 || name.length > NAME_MAX || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new AdminError(`--name must be 1 to ${NAME_MAX} printable characters`)
  }
  const { apiKey, key } = await createApiKey(db, { name, scopes: opts.scopes as ApiKeyScope[] })
  io.out(key)
  io.note(`api key ${apiKey.id} "${apiKey.name}" (${apiKey.scopes.join(', ')}) created. ` +
    'It is shown only this once: store it now. Send it as "Authorization: Bearer <key>".')
}

/** `api-key list`: every key's id, name, hint, scopes and dates; never the key itself (only its hash is stored). */
export async function listKeys(db: Pool, io: AdminOutput): Promise<void> {
  const keys = await listApiKeys(db)
  if (keys.length === 0) {
    io.note('no API keys yet: api-key create --scope kv:write')
    return
  }
  const rows = [['id', 'name', 'key', 'scopes', 'created', 'last used', 'revoked'], ...keys.map(describe)]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  for (const r of rows) io.out(r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd())
}

/** `api-key revoke <id>`: the key stops working within API_KEY_CACHE_MS. */
export async function revokeKey(db: Pool, io: AdminOutput, id: string | undefined): Promise<void> {
  if (!id || !/^[1-9][0-9]{0,17}$/.test(id)) throw new AdminError('api-key revoke needs the numeric id that api-key list shows: api-key revoke <id>')
  const key = await revokeApiKey(db, id)
  if (!key) throw new AdminError(`no API key with id ${id} (see api-key list)`)
  io.note(key.wasRevoked
    ? `api key ${id} "${key.name}" was already revoked at ${key.revokedAt!.toISOString()}`
    : `api key ${id} "${key.name}" revoked; the api refuses it within API_KEY_CACHE_MS (2 s by default)`)
}

function describe(k: ApiKey): string[] {
  const date = (d: Date | null) => (d ? d.toISOString().replace(/\.\d+Z$/, 'Z') : '-')
  return [k.id, k.name, `${k.hint}…`, k.scopes.join(','), date(k.createdAt), date(k.lastUsedAt), date(k.revokedAt)]
}
