import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { REGISTRATION_LIMITS_OFF, isolatedEnv } from '@socialnet/testing'
import app, { serverOptions } from '../src/app'
import { loadApiConfig, type ApiConfig } from '../src/config'
import { MailQueueReader } from './mail-queue'

export interface TestEnv {
  env: Record<string, string>
  config: ApiConfig
  dir: string
  /** Removes the namespace: queues, Redis keys, database, temp dir. */
  cleanup(): Promise<void>
}

/** Environment for one test file: its own namespace on the shared services, rate limits off, quiet logs. */
export function testEnv(overrides: Record<string, string> = {}): TestEnv {
  const isolated = isolatedEnv('api')
  const env: Record<string, string> = {
    ...isolated.env,
    RATE_LIMIT_RPS: '0',
    ...REGISTRATION_LIMITS_OFF,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...overrides
  }
  return {
    env,
    config: loadApiConfig(env),
    dir: isolated.dir,
    // Queues and exchanges under the prefix go straight through the broker's management API:
    // a test's own AMQP_URL may point at a proxy it has cut.
    cleanup: () => isolated.cleanup()
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
    await mail?.close()
    // After the close (an event collected while closing would come back): sessions, rate-limit
    // counters, job statuses and events go with the namespace's Redis keys.
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
