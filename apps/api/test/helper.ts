import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Client } from 'pg'
import amqplib from 'amqplib'
import Redis from 'ioredis'
import { DEFAULT_AMQP_URL, deleteTopology, topology } from '@socialnet/broker'
import app, { serverOptions } from '../src/app'
import { loadApiConfig, type ApiConfig } from '../src/config'
import { MailQueueReader } from './mail-queue'

export const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** A fresh database name per test file: isolation without schemas juggling. */
export function testDatabaseUrl(tag = 'api'): string {
  const url = new URL(PG_ADMIN_URL)
  url.pathname = `/socialnet_test_${tag}_${randomBytes(4).toString('hex')}`
  return url.toString()
}

/** Drops a database made by testDatabaseUrl, kicking out leftover connections. */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1)
  const admin = new Client({ connectionString: PG_ADMIN_URL })
  await admin.connect()
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
  } finally {
    await admin.end()
  }
}

export interface TestEnv {
  env: Record<string, string>
  config: ApiConfig
  dir: string
  /** Drops the database and removes the temp dir. */
  cleanup(): Promise<void>
}

/** Removes the exchanges and queues a test declared under its prefix. */
export async function deleteBrokerTopology(amqpUrl: string, prefix: string): Promise<void> {
  const connection = await amqplib.connect(amqpUrl)
  try {
    const channel = await connection.createChannel()
    await deleteTopology(channel, topology(prefix))
  } finally {
    await connection.close()
  }
}

/** Environment for one test file: own database, own KV log dir, rate limiting off, quiet logs. */
export function testEnv(overrides: Record<string, string> = {}): TestEnv {
  const dir = mkdtempSync(join(tmpdir(), 'socialnet-api-'))
  const tag = randomBytes(4).toString('hex')
  const env: Record<string, string> = {
    DATABASE_URL: testDatabaseUrl(),
    // Own exchanges/queues and Redis keys: a test never feeds a dev mailer or another test.
    AMQP_PREFIX: `test-${tag}-`,
    JOBS_REDIS_PREFIX: `test:${tag}:jobs:`,
    SESSIONS_REDIS_PREFIX: `test:${tag}:auth:`,
    RATE_LIMIT_REDIS_PREFIX: `test:${tag}:rl:`,
    EVENTS_REDIS_PREFIX: `test:${tag}:events:`,
    KV_LOG_PATH: join(dir, 'kv.log'),
    STORAGE_DIR: join(dir, 'images'),
    UPLOAD_TMP_DIR: join(dir, 'uploads'),
    RATE_LIMIT_RPS: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...overrides
  }
  const config = loadApiConfig(env)
  return {
    env,
    config,
    dir,
    async cleanup() {
      await dropDatabase(env.DATABASE_URL!)
      // Every app marks itself in the event stream's keys at start; they go with the environment.
      const redis = new Redis(config.REDIS_URL)
      try {
        const keys = await redis.keys(`${config.EVENTS_REDIS_PREFIX}*`)
        if (keys.length > 0) await redis.del(...keys)
      } finally {
        await redis.quit()
      }
      // Straight to the broker: a test's own AMQP_URL may point at a proxy it has cut.
      await deleteBrokerTopology(process.env.AMQP_URL ?? DEFAULT_AMQP_URL, env.AMQP_PREFIX!)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Builds the real app (same plugins as server.ts) for `inject`; close it in afterAll. */
export async function buildApp(config: ApiConfig): Promise<FastifyInstance> {
  const server = Fastify(serverOptions(config))
  await server.register(fp(app), { config })
  await server.ready()
  return server
}

export interface TestAppOptions {
  /** Read the mail queue (`mail`): opened before the app, so every welcome mail it publishes is routable and kept. */
  readMail?: boolean
  /** Wait for the RabbitMQ connection before the tests start (the app otherwise starts without it after 5 s). */
  waitForBroker?: boolean
  /** Build this many apps on the one environment: replicas sharing Postgres, Redis and the broker. */
  replicas?: number
}

/** What useTestApp's hooks set up; read it inside tests and hooks, never at module level. */
export interface TestApp {
  readonly env: TestEnv
  /** The app (the first replica). */
  readonly app: FastifyInstance
  readonly replicas: FastifyInstance[]
  /** Only with `readMail`. */
  readonly mail: MailQueueReader
  /** Closes the app and builds it again on the same environment, like a process restart. */
  restart(): Promise<FastifyInstance>
}

/**
 * The usual test-file setup as beforeAll/afterAll hooks: a testEnv, the mail
 * reader if asked, the app(s); afterwards the apps' Redis keys go, the apps
 * close and the environment is removed. Call it at the top of a describe.
 */
export function useTestApp(overrides: Record<string, string> = {}, opts: TestAppOptions = {}): TestApp {
  let env: TestEnv | undefined
  let mail: MailQueueReader | undefined
  const replicas: FastifyInstance[] = []
  beforeAll(async () => {
    env = testEnv(overrides)
    if (opts.readMail) mail = await MailQueueReader.open(env.config.AMQP_PREFIX)
    for (let i = 0; i < (opts.replicas ?? 1); i++) replicas.push(await buildApp(env.config))
    if (opts.waitForBroker) await replicas[0]!.broker.connection.waitForConnection()
  })
  afterAll(async () => {
    for (const replica of replicas) await replica.close()
    if (env) {
      // Sessions, login and rate-limit counters, job statuses and events would otherwise linger in the
      // shared Redis until their TTLs. After the close: an event collected while closing would come back.
      const redis = new Redis(env.config.REDIS_URL)
      try {
        for (const prefix of [env.config.JOBS_REDIS_PREFIX, env.config.SESSIONS_REDIS_PREFIX, env.config.RATE_LIMIT_REDIS_PREFIX, env.config.EVENTS_REDIS_PREFIX]) {
          const keys = await redis.keys(`${prefix}*`)
          if (keys.length > 0) await redis.del(...keys)
        }
      } finally {
        await redis.quit()
      }
    }
    await mail?.close()
    await env?.cleanup()
  })
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`useTestApp: ${what} is only there inside tests and hooks${what === 'mail' ? ' (and needs readMail)' : ''}`)
    return value
  }
  return {
    get env() { return ready(env, 'env') },
    get app() { return ready(replicas[0], 'app') },
    get replicas() { ready(replicas[0], 'app'); return replicas },
    get mail() { return ready(mail, 'mail') },
    async restart() {
      await ready(replicas[0], 'app').close()
      replicas[0] = await buildApp(ready(env, 'env').config)
      return replicas[0]
    }
  }
}
