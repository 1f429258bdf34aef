import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Client } from 'pg'
import amqplib from 'amqplib'
import { DEFAULT_AMQP_URL, deleteTopology, topology } from '@socialnet/broker'
import app, { serverOptions } from '../src/app'
import { loadApiConfig, type ApiConfig } from '../src/config'

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
    KV_LOG_PATH: join(dir, 'kv.log'),
    STORAGE_DIR: join(dir, 'images'),
    RATE_LIMIT_RPS: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...overrides
  }
  return {
    env,
    config: loadApiConfig(env),
    dir,
    async cleanup() {
      await dropDatabase(env.DATABASE_URL!)
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
