import { once } from 'node:events'
import { closeBrokerConnections, waitFor } from '@socialnet/testing'
import { depth, mailerTestbed, spawnMailer, type MailerTestbed } from './harness'
import { startSmtpSink, type SmtpSink } from './smtp-sink'

/** How many mails each recipient got. */
function perRecipient(smtp: SmtpSink): Map<string, number> {
  const counts = new Map<string, number>()
  for (const mail of smtp.mails) for (const to of mail.to) counts.set(to, (counts.get(to) ?? 0) + 1)
  return counts
}

describe('several mailers on one queue', () => {
  let smtp: SmtpSink
  let bed: MailerTestbed

  beforeEach(async () => {
    smtp = await startSmtpSink()
    bed = await mailerTestbed(smtp.url)
  })

  afterEach(async () => {
    await bed.cleanup()
    await smtp.close()
  })

  it('loses no mail and sends none twice when one of two mailers stops mid-stream', async () => {
    const first = await bed.startMailer({ MAIL_PREFETCH: '5' })
    const second = await bed.startMailer({ MAIL_PREFETCH: '5' })
    const total = 200
    const recipients = Array.from({ length: total }, (_, i) => `user${i}@example.com`)
    await Promise.all(recipients.map((to) => bed.publishWelcome(to)))
    await waitFor(() => smtp.mails.length >= 40, 'mails flowing')
    await first.close(10_000)
    await waitFor(() => smtp.mails.length >= total, 'every mail')
    await waitFor(async () => (await depth(bed.raw, bed.names.queues.mail.name)) === 0 && second.mailer.active === 0, 'queue empty')
    const counts = perRecipient(smtp)
    expect(recipients.filter((to) => counts.get(to) !== 1)).toEqual([])
    expect(await depth(bed.raw, bed.names.queues.mail.dlq)).toBe(0)
  })

  it('sends each mail once even when a mailer loses its broker connection mid-stream and messages are redelivered', async () => {
    // The held sends must outlast the cut (two rabbitmqctl runs, seconds on a busy machine): a send
    // timeout shorter than that aborts them, and their redeliveries rightly send again.
    const mailer = await bed.startMailer({ MAIL_PREFETCH: '20', MAIL_SMTP_POOL: '5', MAIL_SEND_TIMEOUT_MS: '60000' })
    const total = 150
    const recipients = Array.from({ length: total }, (_, i) => `cut${i}@example.com`)
    await Promise.all(recipients.map((to) => bed.publishWelcome(to)))
    await waitFor(() => smtp.mails.length >= 30, 'mails flowing')
    // Freeze five sends mid-DATA, cut the broker connection under them, and
    // let them finish only after their messages were redelivered.
    smtp.pause()
    await waitFor(() => smtp.held === 5, 'sends in flight')
    expect(await closeBrokerConnections(mailer.connection.name)).toBe(1)
    await waitFor(() => mailer.connection.isConnected && mailer.mailer.active > 0, 'redeliveries after the reconnect')
    smtp.resume()
    await waitFor(() => smtp.mails.length >= total, 'every mail')
    await waitFor(async () => (await depth(bed.raw, bed.names.queues.mail.name)) === 0 && mailer.mailer.active === 0, 'queue empty')
    const counts = perRecipient(smtp)
    expect(recipients.filter((to) => counts.get(to) !== 1)).toEqual([])
    expect(await depth(bed.raw, bed.names.queues.mail.dlq)).toBe(0)
  })

  it('loses no mail when a mailer process is killed (SIGKILL) mid-stream; duplicates stay within the documented window', async () => {
    // Short send timeout = short claim lease (2 s): the survivor takes over the dead mailer's claims quickly.
    const overrides = { MAIL_SEND_TIMEOUT_MS: '1000', MAIL_PREFETCH: '10' }
    const { child, output } = spawnMailer({ ...bed.env, ...overrides, LOG_LEVEL: 'info' })
    await waitFor(() => output().includes('"mailer started"'), 'the child mailer to start')
    await bed.startMailer(overrides)
    const total = 200
    const recipients = Array.from({ length: total }, (_, i) => `kill${i}@example.com`)
    await Promise.all(recipients.map((to) => bed.publishWelcome(to)))
    await waitFor(() => (output().match(/"mail sent"/g) ?? []).length >= 20, 'the child sending')
    child.kill('SIGKILL')
    await once(child, 'exit')
    await waitFor(() => recipients.every((to) => perRecipient(smtp).has(to)), 'every recipient served')
    const counts = perRecipient(smtp)
    const duplicates = recipients.filter((to) => counts.get(to)! > 1)
    // A duplicate needs the kill to land between "250 OK" and the sent-mark; at most the child's prefetch can be there.
    expect(duplicates.length).toBeLessThanOrEqual(10)
    expect(await depth(bed.raw, bed.names.queues.mail.dlq)).toBe(0)
  })
})
