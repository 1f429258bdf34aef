import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'

/** One mail as the SMTP server received it, its quoted-printable undone. */
export interface ReceivedMail {
  to: string[]
  text: string
}

/** A real SMTP server on a free loopback port, standing in for the outside mail system. */
export interface SmtpInbox {
  url: string
  mails: ReceivedMail[]
  /**
   * Recipients whose mail is refused with `550` after DATA (the message refused for good: the
   * mailer dead-letters it). A 550 at RCPT TO would be a hard bounce instead: the address
   * suppressed and the mail acked, with nothing for the dead-letter page to show.
   */
  refused: Set<string>
  /** Resolves with the first mail to `address` (checked whenever a mail arrives). */
  mailTo(address: string): Promise<ReceivedMail>
  close(): Promise<void>
}

function decodeQuotedPrintable(raw: string): string {
  return Buffer.from(raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8')
}

export async function startSmtpInbox(): Promise<SmtpInbox> {
  const mails: ReceivedMail[] = []
  const refused = new Set<string>()
  const waiters: Array<() => void> = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        if (session.envelope.rcptTo.some((r) => refused.has(r.address.toLowerCase()))) {
          callback(Object.assign(new Error('message refused'), { responseCode: 550 }))
          return
        }
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()), text: decodeQuotedPrintable(Buffer.concat(chunks).toString('latin1')) })
        callback()
        for (const wake of waiters.splice(0)) wake()
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.server.address() as AddressInfo
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    refused,
    mailTo(address) {
      const wanted = address.toLowerCase()
      return new Promise((resolve) => {
        const check = () => {
          const mail = mails.find((m) => m.to.includes(wanted))
          if (mail) resolve(mail)
          else waiters.push(check)
        }
        check()
      })
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
