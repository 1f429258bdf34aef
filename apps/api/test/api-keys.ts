import type { FastifyInstance } from 'fastify'
import { createApiKey } from '../src/api-keys/repository'
import type { ApiKeyScope } from '../src/api-keys/keys'

/** Mints a real API key (the CLI's own code path) and returns its `authorization` header. */
export async function apiKeyAuth(app: FastifyInstance, scopes: ApiKeyScope[] = ['kv:write']): Promise<{ authorization: string }> {
  const { key } = await createApiKey(app.db, { name: `test ${scopes.join(' ')}`, scopes })
  return { authorization: `Bearer ${key}` }
}
