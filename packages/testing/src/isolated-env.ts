import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { namespaceTag } from './namespace-tag'
import { dropDatabase, databaseUrl } from './postgres'
import { deleteByPrefix } from './rabbitmq'
import { unlinkRedisKeys } from './redis'
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

/**
 * A namespace of its own on the shared Postgres, RabbitMQ and Redis (other test
 * files, benchmarks and a developer's `npm start` may use them at the same time):
 * database `socialnet_<scope>_<name>_<tag>`, AMQP prefix `<scope>.<name>.<tag>.`,
 * Redis key prefix `<scope>:<name>:<tag>:` and a temp dir. The tag carries the
 * creation time (namespaceTag), so `npm run test:sweep` can remove what a killed
 * run left behind. `retryDelaysMs` also sets AMQP_RETRY_DELAYS_MS; `createdAt`
 * back-dates the tag (the sweep's own tests).
 */
export function isolatedEnv(name: string, { scope = 'test', retryDelaysMs, createdAt }: { scope?: string, retryDelaysMs?: number[], createdAt?: number } = {}): IsolatedEnv {
  const tag = namespaceTag(createdAt)
  // Cut so that the database name stays within Postgres's 63 bytes (it would silently truncate it).
  const safeName = name.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 24)
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
