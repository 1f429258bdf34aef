import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server'
import { parseVerpAddress, type VerpConfig, type VerpRejection } from '@socialnet/sender'
import type { Logger } from 'pino'

/** Limits of the receiver: it faces the internet (it is an MX), so every resource is bounded. */
export interface ReceiverLimits {
  /** Largest message taken; past it the answer is 552. A DSN or ARF with the original's headers is a few KiB. */
  maxBytes: number
  /** Connections at once; the next one is told 421. */
  maxClients: number
  /** An idle connection is closed after this long. */
  socketTimeoutMs: number
  /** Recipients of one message (each verified). */
  maxRecipients: number
  /** On close, open sessions get this long to finish before they are cut (SHUTDOWN_GRACE_MS). */
  closeTimeoutMs: number
}

export const DEFAULT_LIMITS: ReceiverLimits = { maxBytes: 1024 * 1024, maxClients: 50, socketTimeoutMs: 60_000, maxRecipients: 20, closeTimeoutMs: 10_000 }

/** What the receiver hands over: the message ids its verified recipients name, and the raw message. */
export type ReportHandler = (messageIds: string[], raw: Buffer) => Promise<void>

/** Options of a BounceReceiver. */
export interface BounceReceiverOptions {
  verp: VerpConfig
  handle: ReportHandler
  log: Logger
  /** Called for every refused recipient (metrics). */
  onRefused?: (reason: VerpRejection) => void
  limits?: Partial<ReceiverLimits>
}

function smtpError(responseCode: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode })
}

/**
 * The SMTP side of the bounce receiver: no AUTH, no TLS, no relay. Only
 * recipients that are VERP addresses with a tag that verifies are accepted
 * (550 otherwise), so nobody can suppress someone else's address with a
 * forged report. A message is answered once the handler has applied it:
 * 250, or 451 when the handler failed (the sender's MTA retries later).
 */
export class BounceReceiver {
  private readonly server: SMTPServer
  private readonly limits: ReceiverLimits
  private listening = false

  constructor(private readonly options: BounceReceiverOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits }
    this.server = new SMTPServer({
      banner: 'socialnet bounce receiver; reports for our mail only',
      // Advertised in EHLO; a client declaring more in MAIL FROM is refused there with 552.
      size: this.limits.maxBytes,
      maxClients: this.limits.maxClients,
      socketTimeout: this.limits.socketTimeoutMs,
      closeTimeout: this.limits.closeTimeoutMs,
      // Nobody logs in and nothing is relayed; TLS is left to a front (the reports carry no secrets).
      disabledCommands: ['AUTH', 'STARTTLS'],
      authOptional: true,
      // A reverse DNS lookup per connection would let a slow resolver hold connections open.
      disableReverseLookup: true,
      logger: false,
      onRcptTo: (address, session, callback) => callback(this.checkRecipient(address, session)),
      onData: (stream, session, callback) => this.receive(stream, session, callback)
    })
    this.server.on('error', (err) => options.log.warn({ err }, 'smtp connection error'))
  }

  /** Whether the port is open (the readiness probe). */
  get isListening(): boolean {
    return this.listening
  }

  /** Listens on host:port (0 = any free port); resolves to the port. */
  async listen(port: number, host: string): Promise<number> {
    this.server.listen(port, host)
    await once(this.server.server, 'listening')
    this.listening = true
    return (this.server.server.address() as AddressInfo).port
  }

  /** Stops accepting connections; open sessions get up to closeTimeoutMs to finish, then are cut. Idempotent. */
  async close(): Promise<void> {
    if (!this.listening) return
    this.listening = false
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private checkRecipient(address: SMTPServerAddress, session: SMTPServerSession): Error | null {
    if (session.envelope.rcptTo.length >= this.limits.maxRecipients) return smtpError(452, '4.5.3 Too many recipients')
    const parsed = parseVerpAddress(this.options.verp, address.address)
    if ('messageId' in parsed) return null
    this.options.onRefused?.(parsed.rejected)
    this.options.log.info({ recipient: address.address.slice(0, 320), reason: parsed.rejected, remote: session.remoteAddress }, 'recipient refused')
    return parsed.rejected === 'bad_tag'
      ? smtpError(550, '5.7.1 Bounce address tag does not verify')
      : smtpError(550, '5.1.1 No such recipient here: this host takes reports for its own mail only')
  }

  private receive(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void): void {
    const chunks: Buffer[] = []
    let size = 0
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length
      // Past the limit the rest is read and thrown away: the client still has to finish DATA to hear 552.
      if (size <= this.limits.maxBytes) chunks.push(chunk)
    })
    stream.on('end', () => {
      if (stream.sizeExceeded || size > this.limits.maxBytes) {
        callback(smtpError(552, `5.3.4 Message too big for a report (${this.limits.maxBytes} bytes at most)`))
        return
      }
      // Every recipient was verified at RCPT; the same message named twice is one.
      const messageIds = [...new Set(session.envelope.rcptTo.flatMap((r) => {
        const parsed = parseVerpAddress(this.options.verp, r.address)
        return 'messageId' in parsed ? [parsed.messageId] : []
      }))]
      this.options.handle(messageIds, Buffer.concat(chunks)).then(
        () => callback(null, '2.0.0 Report received'),
        (err: unknown) => {
          this.options.log.error({ err }, 'could not apply a report; the sender will retry')
          callback(smtpError(451, '4.3.0 Cannot apply the report now, try again later'))
        }
      )
    })
  }
}
