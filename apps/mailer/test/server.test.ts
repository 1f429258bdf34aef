import { once } from 'node:events'
import { freePort, mailerTestbed, spawnMailer, waitFor, type MailerTestbed } from './harness'
import { startSmtpSink, type SmtpSink } from './smtp-sink'

describe('mailer process (dist/server.js)', () => {
  let smtp: SmtpSink
  let bed: MailerTestbed

  beforeAll(async () => {
    smtp = await startSmtpSink()
    bed = await mailerTestbed(smtp.url)
  })

  afterAll(async () => {
    await bed.cleanup()
    await smtp.close()
  })

  it('refuses a bad environment with one line and exit code 1', async () => {
    const { child, output } = spawnMailer({ ...bed.env, MAIL_PREFETCH: 'lots' })
    const [code] = await once(child, 'exit')
    expect(code).toBe(1)
    expect(output().trim().split('\n')).toHaveLength(1)
    expect(output()).toMatch(/^mailer: invalid environment: .*MAIL_PREFETCH/)
  })

  it('refuses a DKIM key file it cannot read with one line and exit code 1, before connecting anywhere', async () => {
    const dkim = { DKIM_DOMAIN: 'socialnet.example', DKIM_SELECTOR: 's1', DKIM_PRIVATE_KEY_FILE: '/nonexistent/dkim.pem' }
    const { child, output } = spawnMailer({ ...bed.env, ...dkim })
    const [code] = await once(child, 'exit')
    expect(code).toBe(1)
    expect(output()).toBe('mailer: invalid environment: DKIM_PRIVATE_KEY_FILE /nonexistent/dkim.pem cannot be read (ENOENT)\n')
  })

  it('logs each mail consumed and sent, and on SIGTERM finishes the mail in flight and exits 0', async () => {
    const metricsPort = await freePort()
    const { child, output } = spawnMailer({ ...bed.env, LOG_LEVEL: 'info', MAIL_PREFETCH: '1', MAILER_METRICS_PORT: String(metricsPort) })
    await waitFor(() => output().includes('"mailer started"'), 'the mailer to start')
    await bed.publishWelcome('watched@example.com')
    await waitFor(() => smtp.mails.length === 1, 'the first mail')
    await waitFor(() => output().includes('"mail sent"'), 'the sent log line')
    expect(output()).toMatch(/"msg":"mail consumed"/)
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    expect(metrics).toContain('mailer_messages_total{type="mail.welcome.v1",outcome="sent"} 1')
    // Hold the next send mid-DATA, then ask the process to stop.
    smtp.pause()
    await bed.publishWelcome('inflight@example.com')
    await waitFor(() => smtp.held === 1, 'a send in flight')
    child.kill('SIGTERM')
    await waitFor(() => output().includes('shutting down gracefully'), 'the shutdown to begin')
    smtp.resume()
    const [code] = await once(child, 'exit')
    expect(code).toBe(0)
    expect(smtp.mails.map((m) => m.to[0])).toEqual(['watched@example.com', 'inflight@example.com'])
    expect(output()).toContain('"mailer stopped"')
    // Credentials never reach the logs.
    expect(output()).not.toContain('guest:guest')
  })
})
