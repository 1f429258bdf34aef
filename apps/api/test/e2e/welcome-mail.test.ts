import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import type { FastifyInstance } from 'fastify'
import { deleteTopology, topology } from '@socialnet/broker'
import { buildApp, testEnv, type TestEnv } from '../helper'
import { connectAmqp, waitForValue } from '@socialnet/testing'
import { AMQP_URL, testPrefix } from '../mail-queue'

const MAILER_JS = join(__dirname, '..', '..', '..', 'mailer', 'dist', 'server.js')

/** One mail as the SMTP server received it. */
interface Delivered {
  to: string[]
  raw: string
}

/** A real SMTP server on a free port, standing in for the outside mail system. */
async function startSmtpServer(): Promise<{ server: SMTPServer; port: number; mails: Delivered[] }> {
  const mails: Delivered[] = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') })
        callback()
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.server.address() as AddressInfo).port, mails }
}

/** Undoes quoted-printable (soft breaks, =XX) so the link can be read from either MIME part. */
function decodeQuotedPrintable(raw: string): string {
  return Buffer.from(raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8')
}

describe('registration -> outbox -> RabbitMQ -> mailer -> SMTP -> verification link', () => {
  const prefix = testPrefix()
  let env: TestEnv
  let app: FastifyInstance
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>
  let mailer: ChildProcess
  let mailerExited: Promise<number | string>
  let mailerLog = ''

  beforeAll(async () => {
    if (!existsSync(MAILER_JS)) throw new Error(`${MAILER_JS} is missing: run npm run build first`)
    smtp = await startSmtpServer()
    env = testEnv({ AMQP_PREFIX: prefix, PUBLIC_URL: 'http://social.test:8080' })
    app = await buildApp(env.config)
    // The mailer as it runs in production: its own process, configured by env only.
    mailer = spawn(process.execPath, [MAILER_JS], {
      env: {
        ...process.env,
        AMQP_URL,
        AMQP_PREFIX: prefix,
        DATABASE_URL: env.env.DATABASE_URL!,
        SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        PUBLIC_URL: env.config.PUBLIC_URL,
        LOG_LEVEL: 'info'
      },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    mailer.stdout!.on('data', (d: Buffer) => { mailerLog += d.toString() })
    mailer.stderr!.on('data', (d: Buffer) => { mailerLog += d.toString() })
    mailerExited = new Promise((resolve) => mailer.on('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  })

  afterAll(async () => {
    if (mailer.exitCode === null && mailer.signalCode === null) {
      mailer.kill('SIGTERM')
      await mailerExited
    }
    await app.close()
    await new Promise<void>((resolve) => smtp.server.close(() => resolve()))
    const model = await connectAmqp(AMQP_URL)
    await deleteTopology(await model.createChannel(), topology(prefix)).catch(() => {})
    await model.close()
    await env.cleanup()
  })

  test('one welcome mail reaches the address, and its link verifies the user', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/users', payload: { email: 'lin@example.com', nickname: 'lin', password: 'tiger violet 42' } })
    expect(res.statusCode).toBe(201)
    const userId: string = res.json().id

    const [mail] = await waitForValue(() => (smtp.mails.length > 0 ? smtp.mails : undefined), 'the welcome mail')
    expect(mail!.to).toEqual(['lin@example.com'])
    const links = [...decodeQuotedPrintable(mail!.raw).matchAll(/http:\/\/social\.test:8080\/verify(\?token=[\w-]+)/g)].map((m) => m[1])
    expect(links.length).toBeGreaterThan(0)
    expect(new Set(links).size).toBe(1)

    // The link opens the console's Verify page, which calls this API route with the token.
    const verify = await app.inject(`/v1/users/verify${links[0]!}`)
    expect(verify.statusCode).toBe(200)
    expect(verify.json().id).toBe(userId)
    expect((await app.inject(`/v1/users/${userId}`)).json().emailVerified).toBe(true)

    // Once the mailer has stopped (finishing anything in flight), nothing more can arrive:
    // exactly one mail was sent for this registration.
    mailer.kill('SIGTERM')
    expect(await mailerExited).toBe(0)
    expect(smtp.mails).toHaveLength(1)
    expect(mailerLog).toContain('mail sent')
  })
})
