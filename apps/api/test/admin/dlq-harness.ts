import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import { AMQP_URL } from '../mail-queue'

const MAILER_JS = join(__dirname, '..', '..', '..', 'mailer', 'dist', 'server.js')

/** A real SMTP server standing in for the outside mail system; `refuse` makes it answer 550 to every sender. */
export interface Smtp {
  port: number
  refuse: boolean
  mails: Array<{ to: string[]; raw: string }>
  close(): Promise<void>
}

export async function startSmtp(): Promise<Smtp> {
  const smtp: Smtp = { port: 0, refuse: false, mails: [], close: async () => {} }
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onMailFrom(_address, _session, callback) {
      if (smtp.refuse) return callback(Object.assign(new Error('Relaying denied'), { responseCode: 550 }))
      callback()
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        smtp.mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') })
        callback()
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  smtp.port = (server.server.address() as AddressInfo).port
  smtp.close = () => new Promise<void>((resolve) => server.close(() => resolve()))
  return smtp
}

/** The built mailer as its own process, configured by env only; `log` collects what it printed. */
export interface MailerProcess {
  log: string
  stop(): Promise<number | string>
}

export function startMailer(env: Record<string, string>): MailerProcess {
  if (!existsSync(MAILER_JS)) throw new Error(`${MAILER_JS} is missing: run npm run build first`)
  const child: ChildProcess = spawn(process.execPath, [MAILER_JS], {
    env: { ...process.env, AMQP_URL, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  const proc: MailerProcess = {
    log: '',
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      return exited
    }
  }
  child.stdout!.on('data', (d: Buffer) => { proc.log += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { proc.log += d.toString() })
  return proc
}
