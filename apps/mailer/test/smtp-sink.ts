import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { SMTPServer, type SMTPServerOptions } from 'smtp-server'

/** A mail the local SMTP server accepted. */
export interface ReceivedMail {
  from: string
  to: string[]
  raw: string
  /** The raw message with quoted-printable undone, so links and text can be searched. */
  decoded: string
}

/** How the sink answers: accept, refuse for now (4xx), or refuse for good (5xx). */
export type SinkMode = 'accept' | 'tempfail' | 'permfail'

/** A real SMTP server on localhost standing in for the outside mail system. */
export interface SmtpSink {
  port: number
  url: string
  mails: ReceivedMail[]
  /** MAIL FROM attempts refused so far. */
  refused: number
  mode: SinkMode
  /** Answers RCPT TO per recipient: a reply code (421, 451, 550, ...) refuses it, undefined accepts. */
  rcptReply: (address: string) => number | undefined
  /** RCPT TO refused by rcptReply so far. */
  refusedRecipients: number
  /** Recipients refused for good at RCPT TO (550 5.1.1, a mailbox that does not exist), lower-cased. */
  unknownUsers: Set<string>
  /** Mails whose DATA is held back by pause(). */
  held: number
  /** Holds every mail's final reply until resume(): mails stay "in flight" at the mailer. */
  pause(): void
  resume(): void
  close(): Promise<void>
}

function smtpError(message: string, responseCode: number): Error {
  return Object.assign(new Error(message), { responseCode })
}

/** Undoes quoted-printable soft breaks and =XX escapes (enough to read what nodemailer wrote). */
export function decodeQuotedPrintable(raw: string): string {
  const joined = raw.replace(/=\r?\n/g, '')
  return Buffer.from(joined.replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8')
}

/** Starts an SMTP server on `port` (0 = any free port). */
export async function startSmtpSink(port = 0): Promise<SmtpSink> {
  let gate: Promise<void> | undefined
  let open: () => void = () => {}
  const sink: SmtpSink = {
    port: 0,
    url: '',
    mails: [],
    refused: 0,
    mode: 'accept',
    rcptReply: () => undefined,
    refusedRecipients: 0,
    unknownUsers: new Set(),
    held: 0,
    pause() {
      gate ??= new Promise<void>((resolve) => (open = resolve))
    },
    resume() {
      gate = undefined
      open()
    },
    close: async () => {}
  }
  const options: SMTPServerOptions = {
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onMailFrom(_address, _session, callback) {
      if (sink.mode === 'accept') return callback()
      sink.refused += 1
      if (sink.mode === 'tempfail') return callback(smtpError('Mailbox busy, try again later', 451))
      return callback(smtpError('Relaying denied', 550))
    },
    onRcptTo(address, _session, callback) {
      if (sink.unknownUsers.has(address.address.toLowerCase())) {
        return callback(smtpError(`5.1.1 <${address.address}>: Recipient address rejected: User unknown`, 550))
      }
      const code = sink.rcptReply(address.address)
      if (code === undefined) return callback()
      sink.refusedRecipients += 1
      return callback(smtpError(`Recipient refused for now (${code})`, code))
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', async () => {
        if (gate) {
          sink.held += 1
          await gate
          sink.held -= 1
        }
        const raw = Buffer.concat(chunks).toString('latin1')
        sink.mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          decoded: decodeQuotedPrintable(raw)
        })
        callback()
      })
    }
  }
  const server = new SMTPServer(options)
  server.on('error', () => {})
  server.listen(port, '127.0.0.1')
  await once(server.server, 'listening')
  sink.port = (server.server.address() as AddressInfo).port
  sink.url = `smtp://127.0.0.1:${sink.port}`
  sink.close = () => new Promise<void>((resolve) => server.close(() => resolve()))
  return sink
}
