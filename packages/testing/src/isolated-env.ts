import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Redis from 'ioredis'
import { dropDatabase, databaseUrl } from './postgres'
import { deleteByPrefix } from './rabbitmq'
import { AMQP_URL, REDIS_URL } from './services'

export interface IsolatedEnv {
  tag: string
  dir: string
  /** AMQP_PREFIX: every exchange and queue name starts with it. */
  prefix: string
  redisPrefix: string
  databaseUrl: string
  /** Spread into an app's environment: it then uses only this namespace. */
  env: Record<string, string>
  /**
   * Deletes every queue and exchange under the prefix, unlinks the Redis keys under the prefix, drops the database
   * even if a killed app still holds connections, and removes the dir. Every
   * step runs even if an earlier one failed; it rejects afterwards naming what
   * was left behind.
   */
  cleanup(): Promise<void>
}

/** Deletes the keys under `prefix` with SCAN + UNLINK, never KEYS: the Redis is shared. */
export async function unlinkRedisKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 })
  try {
    await redis.connect()
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.unlink(...keys)
      cursor = next
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}

/**
 * A namespace of its own on the shared Postgres, RabbitMQ and Redis (other test
 * files, benchmarks and a developer's `npm start` may use them at the same time):
 * database `socialnet_<scope>_<name>_<tag>`, AMQP prefix, Redis key prefix and a
 * temp dir. `retryDelaysMs` also sets AMQP_RETRY_DELAYS_MS.
 */
export function isolatedEnv(name: string, { scope = 'test', retryDelaysMs }: { scope?: string, retryDelaysMs?: number[] } = {}): IsolatedEnv {
  const tag = randomBytes(4).toString('hex')
  const safeName = name.toLowerCase().replace(/[^a-z0-9]/g, '')
  const prefix = `${scope}.${safeName}.${tag}.`
  const redisPrefix = `${scope}:${safeName}:${tag}:`
  const url = databaseUrl(`socialnet_${scope}_${safeName}_${tag}`)
  const dir = mkdtempSync(join(tmpdir(), `socialnet-${scope}-${safeName}-`))
  const env: Record<string, string> = {
    AMQP_URL,
    AMQP_PREFIX: prefix,
    REDIS_URL,
    DATABASE_URL: url,
    JOBS_REDIS_PREFIX: `${redisPrefix}jobs:`,
    SESSIONS_REDIS_PREFIX: `${redisPrefix}auth:`,
    RATE_LIMIT_REDIS_PREFIX: `${redisPrefix}rl:`,
    REGISTRATION_REDIS_PREFIX: `${redisPrefix}register:`,
    EVENTS_REDIS_PREFIX: `${redisPrefix}events:`,
    SHUTDOWN_HANDOFF_KEY: `${redisPrefix}leaving`,
    KV_LOG_PATH: join(dir, 'kv.log'),
    STORAGE_DIR: join(dir, 'images'),
    UPLOAD_TMP_DIR: join(dir, 'uploads')
  }
  if (retryDelaysMs) env.AMQP_RETRY_DELAYS_MS = retryDelaysMs.join(',')
  return {
    tag,
    dir,
    prefix,
    redisPrefix,
    databaseUrl: url,
    env,
    async cleanup() {
      const left: string[] = []
      const steps: Array<[string, () => Promise<void>]> = [
        ['queues', () => deleteByPrefix(prefix)],
        ['redis keys', () => unlinkRedisKeys(redisPrefix)],
        ['database', () => dropDatabase(url)]
      ]
      for (const [what, step] of steps) await step().catch((err: Error) => left.push(`${what} (${err.message})`))
      rmSync(dir, { recursive: true, force: true })
      if (left.length > 0) throw new Error(`cleanup of ${prefix} left behind: ${left.join(', ')}`)
    }
  }
}
