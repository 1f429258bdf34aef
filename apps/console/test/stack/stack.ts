import { existsSync } from 'node:fs'
import { join } from 'node:path'
import amqplib from 'amqplib'
import { topology } from '@socialnet/broker'
import { AMQP_URL, REGISTRATION_LIMITS_OFF, freePort, isolatedEnv } from '@socialnet/testing'
import { ROOT, builtScript, runCli, startApp, type AppProcess } from './app-process'
import { startSmtpInbox, type SmtpInbox } from './smtp-inbox'

export const CONSOLE_DIR = join(ROOT, 'apps', 'console', 'dist')

/** The system as `npm start` runs it, in a namespace of its own: api with the console, two mailers, a worker, an SMTP inbox. */
export interface Stack {
  /** The api's address, also its PUBLIC_URL. */
  url: string
  inbox: SmtpInbox
  /** The stack's own database (DATABASE_URL), for a scenario that needs rows the services have not written. */
  databaseUrl: string
  api: AppProcess
  mailers: AppProcess[]
  worker: AppProcess
  /** Gives a registered user the admin role, with the api's own CLI. */
  promote(email: string): Promise<void>
  /** Consumers on the mail queue, as RabbitMQ counts them. */
  mailConsumers(): Promise<number>
  /** Puts raw bytes on the mail work queue, as a buggy or hostile publisher would (a poison message). */
  publishToMailQueue(content: Buffer, messageId: string): Promise<void>
  /** Stops every process (SIGTERM, as an operator would) and removes the namespace; throws with what failed. */
  stop(): Promise<void>
}

/** Starts the stack; `envOverrides` replaces settings for every process (a scenario that needs a limit on; '' unsets one). */
export async function startStack(envOverrides: Readonly<Record<string, string>> = {}): Promise<Stack> {
  if (!existsSync(join(CONSOLE_DIR, 'index.html'))) throw new Error(`${CONSOLE_DIR} is missing: run npm run build first`)
  const isolated = isolatedEnv('console')
  const inbox = await startSmtpInbox()
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const env = {
    ...isolated.env,
    PUBLIC_URL: url,
    SMTP_URL: inbox.url,
    RATE_LIMIT_RPS: '0',
    ...REGISTRATION_LIMITS_OFF,
    SHUTDOWN_GRACE_MS: '5000',
    SHUTDOWN_DRAIN_MS: '0',
    CALLBACK_ALLOW_HOSTS: '127.0.0.1',
    // Unacked counts in the admin queue table; without the management plugin they show as "—".
    RABBITMQ_MANAGEMENT_URL: process.env.RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672',
    ...envOverrides
  }
  // An override of '' leaves the setting unset (the Unacked hint needs no RABBITMQ_MANAGEMENT_URL at all).
  for (const [name, value] of Object.entries(env)) if (value === '') delete env[name as keyof typeof env]
  const started: AppProcess[] = []
  const stopAll = async () => {
    // Mailers and worker first: nothing is left half-consumed when the api (and the topology it made) goes.
    await Promise.all(started.filter((p) => p.name !== 'api').map((p) => p.stop()))
    await Promise.all(started.filter((p) => p.name === 'api').map((p) => p.stop()))
  }
  try {
    // All at once, as compose starts them: the first to reach Postgres creates the database and
    // migrates it under an advisory lock, the others wait for the lock and find nothing to do.
    const api = startApp('api', builtScript('api'), { ...env, HOST: '127.0.0.1', PORT: String(port), CONSOLE_DIR, REPLICA_ID: 'api-1' })
    const mailers = ['mailer-1', 'mailer-2'].map((replica) => startApp(replica, builtScript('mailer'), { ...env, REPLICA_ID: replica }))
    const worker = startApp('worker', builtScript('worker'), { ...env, REPLICA_ID: 'worker-1' })
    started.push(api, ...mailers, worker)
    await Promise.all([api.printed('Server listening at'), ...mailers.map((m) => m.printed('mailer started')), worker.printed('worker consuming')])

    const amqp = await amqplib.connect(AMQP_URL)
    const channel = await amqp.createChannel()
    return {
      url,
      inbox,
      databaseUrl: isolated.databaseUrl,
      api,
      mailers,
      worker,
      promote: async (email) => { await runCli(join(ROOT, 'apps', 'api', 'dist', 'admin', 'cli.js'), ['promote', email], env) },
      mailConsumers: async () => (await channel.checkQueue(topology(isolated.prefix).queues.mail.name)).consumerCount,
      async publishToMailQueue(content, messageId) {
        const confirmed = await amqp.createConfirmChannel()
        confirmed.sendToQueue(topology(isolated.prefix).queues.mail.name, content, { persistent: true, messageId, type: 'mail.welcome.v1', contentType: 'application/json' })
        await confirmed.waitForConfirms()
        await confirmed.close()
      },
      async stop() {
        await amqp.close().catch(() => {})
        await stopAll()
        await inbox.close()
        await isolated.cleanup()
      }
    }
  } catch (err) {
    await stopAll()
    await inbox.close()
    await isolated.cleanup().catch(() => {})
    throw err
  }
}
