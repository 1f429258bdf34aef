import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import amqplib from 'amqplib'
import Redis from 'ioredis'
import { Client } from 'pg'
import { deleteTopology, topology, type Topology } from '@socialnet/broker'

export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** A namespace of its own on the shared Postgres, RabbitMQ and Redis, and a temp dir; `env` points every app at it. */
export interface IsolatedEnv {
  env: Record<string, string>
  names: Topology
  dir: string
  /** Deletes queues, Redis keys, the database and the dir; each step runs even if one before failed. */
  cleanup(): Promise<void>
}

export function isolatedEnv(): IsolatedEnv {
  const tag = randomBytes(4).toString('hex')
  const prefix = `test.console.${tag}.`
  const redisPrefix = `test:console:${tag}:`
  const databaseUrl = new URL(PG_ADMIN_URL)
  databaseUrl.pathname = `/socialnet_test_console_${tag}`
  const dir = mkdtempSync(join(tmpdir(), 'socialnet-console-'))
  const env = {
    AMQP_URL,
    AMQP_PREFIX: prefix,
    REDIS_URL,
    DATABASE_URL: databaseUrl.toString(),
    JOBS_REDIS_PREFIX: `${redisPrefix}jobs:`,
    SESSIONS_REDIS_PREFIX: `${redisPrefix}auth:`,
    RATE_LIMIT_REDIS_PREFIX: `${redisPrefix}rl:`,
    EVENTS_REDIS_PREFIX: `${redisPrefix}events:`,
    SHUTDOWN_HANDOFF_KEY: `${redisPrefix}leaving`,
    KV_LOG_PATH: join(dir, 'kv.log'),
    STORAGE_DIR: join(dir, 'images'),
    UPLOAD_TMP_DIR: join(dir, 'uploads')
  }
  const names = topology(prefix)

  async function deleteQueues(): Promise<void> {
    const connection = await amqplib.connect(AMQP_URL)
    try {
      const channel = await connection.createChannel()
      channel.on('error', () => {})
      await deleteTopology(channel, names)
    } finally {
      await connection.close().catch(() => {})
    }
  }
  async function unlinkKeys(): Promise<void> {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 })
    try {
      await redis.connect()
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000)
        if (keys.length > 0) await redis.unlink(...keys)
        cursor = next
      } while (cursor !== '0')
    } finally {
      redis.disconnect()
    }
  }
  async function dropDatabase(): Promise<void> {
    const pg = new Client({ connectionString: PG_ADMIN_URL })
    await pg.connect()
    try {
      await pg.query(`DROP DATABASE IF EXISTS "${databaseUrl.pathname.slice(1)}" WITH (FORCE)`)
    } finally {
      await pg.end()
    }
  }

  return {
    env,
    names,
    dir,
    async cleanup() {
      const left: string[] = []
      for (const [what, step] of [['queues', deleteQueues], ['redis keys', unlinkKeys], ['database', dropDatabase]] as const) {
        await step().catch((err: Error) => left.push(`${what} (${err.message})`))
      }
      rmSync(dir, { recursive: true, force: true })
      if (left.length > 0) throw new Error(`cleanup of ${prefix} left behind: ${left.join(', ')}`)
    }
  }
}
