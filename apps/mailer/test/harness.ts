import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { ChannelModel } from 'amqplib'
import pino, { type Logger } from 'pino'
import { Publisher, BrokerConnection, deleteTopology, topology, type Topology } from '@socialnet/broker'
import { loggerOptions } from '@socialnet/config'
import { AMQP_URL, connectAmqp, databaseUrl, dropDatabase, namespaceTag, REDIS_URL, unlinkRedisKeys } from '@socialnet/testing'
import { loadMailerConfig, type MailerConfig } from '../src/config'
import { startMailerService, type MailerService } from '../src/service'

export { AMQP_URL, freePort, waitFor } from '@socialnet/testing'

/** Everything one test file shares: its own database, queue prefix, broker connection and publisher. */
export interface MailerTestbed {
  env: Record<string, string>
  names: Topology
  raw: ChannelModel
  publisher: Publisher
  log: Logger
  /** Starts a mailer (as server.ts would) on this testbed, with env overrides. */
  startMailer(overrides?: Record<string, string>): Promise<MailerService>
  config(overrides?: Record<string, string>): MailerConfig
  /** Publishes a welcome message; returns its messageId. */
  publishWelcome(to: string, messageId?: string, verificationUrl?: string): Promise<string>
  /** Stops every mailer started here, drops the database, the queues and the Redis keys (the pace's, under AMQP_PREFIX). */
  cleanup(): Promise<void>
}

/** Sets up a testbed for a mailer sending to `smtpUrl`, with links under `publicUrl`. */
export async function mailerTestbed(smtpUrl: string, publicUrl = 'http://localhost:3000'): Promise<MailerTestbed> {
  const tag = namespaceTag()
  const env: Record<string, string> = {
    AMQP_URL,
    AMQP_PREFIX: `test-mailer-${tag}.`,
    AMQP_RETRY_DELAYS_MS: '50,100,200,400',
    DATABASE_URL: databaseUrl(`socialnet_test_mailer_${tag}`),
    SMTP_URL: smtpUrl,
    PUBLIC_URL: publicUrl,
    MAIL_MAX_ATTEMPTS: '4',
    MAIL_SEND_TIMEOUT_MS: '5000',
    REDIS_URL,
    // Unpaced unless a test is about the pace: the others send bursts to one domain.
    MAIL_DOMAIN_RATE_PER_MINUTE: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent'
  }
  const config = (overrides: Record<string, string> = {}): MailerConfig => loadMailerConfig({ ...env, ...overrides })
  const base = config()
  const log = pino(loggerOptions('mailer-test', base.LOG_LEVEL))
  const names = topology({ prefix: base.AMQP_PREFIX, retryDelaysMs: base.retryDelaysMs })
  const connection = new BrokerConnection({ url: AMQP_URL, name: `mailer-test-publisher:${tag}`, prefix: base.AMQP_PREFIX, retryDelaysMs: base.retryDelaysMs })
  await connection.connect()
  const publisher = new Publisher(connection)
  const raw = await connectAmqp(AMQP_URL)
  const services: MailerService[] = []
  const extraTopologies: Topology[] = []
  let counter = 0
  return {
    env,
    names,
    raw,
    publisher,
    log,
    config,
    async startMailer(overrides = {}) {
      const own = config(overrides)
      // A mailer with other retry delays declares other retry queues: remember them for cleanup.
      extraTopologies.push(topology({ prefix: own.AMQP_PREFIX, retryDelaysMs: own.retryDelaysMs }))
      const service = await startMailerService(own, log)
      services.push(service)
      return service
    },
    async publishWelcome(to, messageId = `welcome-${tag}-${++counter}`, verificationUrl) {
      const token = randomBytes(16).toString('base64url')
      await publisher.publish({
        type: 'mail.welcome.v1',
        messageId,
        payload: { to, nickname: 'Ada <Lovelace> & "friends"', verificationUrl: verificationUrl ?? `${publicUrl}/verify?token=${token}` }
      })
      return messageId
    },
    async cleanup() {
      for (const service of services) await service.close(1000)
      await publisher.close()
      await connection.close()
      const channel = await raw.createChannel()
      for (const each of [names, ...extraTopologies]) await deleteTopology(channel, each)
      await channel.close()
      await raw.close()
      await unlinkRedisKeys(env.AMQP_PREFIX!)
      await dropDatabase(env.DATABASE_URL!)
    }
  }
}

/** Number of ready messages in a queue. */
export async function depth(raw: ChannelModel, queue: string): Promise<number> {
  const channel = await raw.createChannel()
  const { messageCount } = await channel.checkQueue(queue)
  await channel.close()
  return messageCount
}

/** Runs the built mailer (dist/server.js) as a child process with only `env` (and PATH); `output()` is its stdout and stderr so far. */
/**
 * A launcher of its own, like a second `npm start`: a node process that runs the mailer as its child
 * and passes SIGTERM on. The mailer's parent is then not this test's process.
 */
const LAUNCHER = `
const child = require('node:child_process').spawn(process.execPath, [process.argv[1]], { stdio: 'inherit' })
process.on('SIGTERM', () => child.kill('SIGTERM'))
child.on('exit', (code) => process.exit(code ?? 1))
`

/** Runs dist/server.js with `env`, as a child of this process or (`ownLauncher`) of a launcher of its own. */
export function spawnMailer(env: Record<string, string>, { ownLauncher = false } = {}): { child: ChildProcess; output: () => string } {
  const server = join(__dirname, '..', 'dist', 'server.js')
  const child = spawn(process.execPath, ownLauncher ? ['-e', LAUNCHER, server] : [server], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()))
  return { child, output: () => output }
}
