import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import type { ChannelModel } from 'amqplib'
import nodemailer from 'nodemailer'
import { Pool } from 'pg'
import pino from 'pino'
import { BrokerConnection, deleteTopology, topology, type EmittedEvent, eventsOfMessage } from '@socialnet/broker'
import { loggerOptions } from '@socialnet/config'
import { verpReturnPath, type VerpConfig } from '@socialnet/sender'
import { AMQP_URL, connectAmqp, databaseUrl, dropDatabase, namespaceTag, pgBounds } from '@socialnet/testing'
import { loadBouncesConfig } from '../src/config'
import type { ReceiverLimits } from '../src/receiver/smtp-receiver'
import { startBouncesService, type BouncesService } from '../src/service'

export { waitFor, freePort } from '@socialnet/testing'

/** The VERP settings every test uses (the mailer's would be the same). */
export const VERP: VerpConfig = { local: 'bounces', domain: 'bounces.socialnet.test', secret: 'test-bounce-secret-0123456789' }

/** What the receiver answered a message: the SMTP reply code, and for a 250 the recipients refused on the way. */
export interface SmtpResult {
  code: number
  response: string
  rejected: string[]
}

/** One test file's receiver: its own database and AMQP prefix, and the api's side of events (the collector queue). */
export interface BouncesTestbed {
  service: BouncesService
  /** The receiver's database, to seed the delivery log and read the suppression list. */
  db: Pool
  events: EmittedEvent[]
  env: Record<string, string>
  /** The VERP return path of `messageId` under VERP. */
  returnPath(messageId: string): string
  /** Sends `raw` as is, from the null sender `<>` (as a DSN comes), to `to` over real SMTP. */
  send(to: string | string[], raw: string | Buffer): Promise<SmtpResult>
  cleanup(): Promise<void>
}

/** Starts a receiver on a free port with its own namespace; `overrides` go into its env. */
export async function bouncesTestbed(overrides: Record<string, string> = {}, limits: Partial<ReceiverLimits> = {}): Promise<BouncesTestbed> {
  const tag = namespaceTag()
  const env: Record<string, string> = {
    AMQP_URL,
    AMQP_PREFIX: `test-bounces-${tag}.`,
    DATABASE_URL: databaseUrl(`socialnet_test_bounces_${tag}`),
    BOUNCE_DOMAIN: VERP.domain,
    BOUNCE_LOCAL: VERP.local,
    BOUNCE_SECRET: VERP.secret,
    BOUNCE_SMTP_PORT: '0',
    BOUNCE_SMTP_HOST: '127.0.0.1',
    REPLICA_ID: 'bounces-test',
    SHUTDOWN_GRACE_MS: '1000',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...overrides
  }
  const config = loadBouncesConfig(env)
  const log = pino(loggerOptions('bounces-test', config.LOG_LEVEL))
  // The api's part: it owns the topology, so the events exchange and the collector queue exist.
  const names = topology({ prefix: config.AMQP_PREFIX })
  const owner = new BrokerConnection({ url: config.AMQP_URL, name: `bounces-test-owner:${tag}`, prefix: config.AMQP_PREFIX })
  await owner.connect()
  const raw: ChannelModel = await connectAmqp(config.AMQP_URL)
  const channel = await raw.createChannel()
  const events: EmittedEvent[] = []
  await channel.consume(names.events.queue, (msg) => {
    if (msg) events.push(...eventsOfMessage(msg) as EmittedEvent[])
  }, { noAck: true })
  const service = await startBouncesService(config, log, limits)
  const db = new Pool({ connectionString: config.DATABASE_URL, max: 2, ...pgBounds() })
  db.on('error', () => {})
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: service.smtpPort, secure: false, ignoreTLS: true })
  return {
    service,
    db,
    events,
    env,
    returnPath: (messageId) => verpReturnPath(VERP, messageId)!,
    async send(to, message) {
      try {
        const info = await transport.sendMail({ envelope: { from: '', to }, raw: message })
        return { code: Number(/^(\d{3})/.exec(info.response)?.[1]), response: info.response, rejected: info.rejected.map(String) }
      } catch (err) {
        const e = err as { responseCode?: number; response?: string; message: string }
        return { code: e.responseCode ?? 0, response: e.response ?? e.message, rejected: [] }
      }
    },
    async cleanup() {
      transport.close()
      await service.close()
      await db.end()
      await owner.close()
      await deleteTopology(channel, names)
      await channel.close()
      await raw.close()
      await dropDatabase(config.DATABASE_URL)
    }
  }
}

/** Runs the built receiver (dist/server.js) with only `env` (and PATH); `output()` is its stdout and stderr so far. */
export function spawnBounces(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [join(__dirname, '..', 'dist', 'server.js')], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()))
  return { child, output: () => output }
}
