import nodemailer from 'nodemailer'
import type { DkimSigning } from './config'
import { FailureCode } from './errors'

/** The one pooled SMTP transport of a mailer process. */
export type SmtpTransport = ReturnType<typeof createSmtpTransport>

/** Options of the pooled transport. */
export interface SmtpOptions {
  url: string
  from: string
  maxConnections: number
  /** Bounds connect, greeting and each socket wait, so a hung server cannot hold a message forever. */
  timeoutMs: number
  /** Signs every mail when set (nodemailer's own DKIM signer). */
  dkim?: DkimSigning
}

/**
 * Creates the pooled transport: connections are reused across mails, and
 * `close()` (in the service's shutdown) ends them.
 */
export function createSmtpTransport(options: SmtpOptions) {
  return nodemailer.createTransport(
    {
      url: options.url,
      pool: true,
      maxConnections: options.maxConnections,
      maxMessages: 500,
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
      ...(options.dkim ? { dkim: options.dkim } : {})
    },
    { from: options.from }
  )
}

interface SmtpErrorShape {
  code?: string
  responseCode?: number
  response?: string
  message?: string
  /** The SMTP command the reply answered (`MAIL FROM`, `RCPT TO`, `DATA`), set by nodemailer. */
  command?: string
}

/**
 * True when the SMTP server refused this particular mail for good: a 5xx
 * reply to the envelope or the message, or an envelope that cannot be sent.
 * Everything else (refused or dropped connections, timeouts, 4xx, and also
 * 5xx to AUTH, which is an operator's problem, not the mail's) is transient.
 */
export function isPermanentSmtpError(err: unknown): boolean {
  const e = (err ?? {}) as SmtpErrorShape
  if (e.code === 'EENVELOPE' || e.code === 'EMESSAGE' || e.code === 'EMAXRECIPIENTS') {
    return e.responseCode === undefined || (e.responseCode >= 500 && e.responseCode < 600)
  }
  return false
}

/**
 * True when the receiving server refused the recipient for good (a 5xx to
 * RCPT TO): a hard bounce, about that address, which a retry cannot change.
 * A 5xx to MAIL FROM or DATA is about our sender or our message instead.
 */
export function isRecipientRefused(err: unknown): boolean {
  const e = (err ?? {}) as SmtpErrorShape
  return e.code === 'EENVELOPE' && e.command === 'RCPT TO' && e.responseCode !== undefined && e.responseCode >= 500 && e.responseCode < 600
}

/** The reply code of an SMTP failure or success line (`250 OK` -> 250), when the server answered. */
export function smtpCodeOf(errOrResponse: unknown): number | undefined {
  if (typeof errOrResponse === 'string') {
    const code = /^[2-5]\d\d\b/.exec(errOrResponse)
    return code ? Number(code[0]) : undefined
  }
  const code = ((errOrResponse ?? {}) as SmtpErrorShape).responseCode
  return typeof code === 'number' ? code : undefined
}

/** One line describing an SMTP failure for logs and dead-letter headers. */
export function describeSmtpError(err: unknown): string {
  const e = (err ?? {}) as SmtpErrorShape
  const reply = e.response ?? e.message ?? String(err)
  return e.code ? `${e.code}: ${reply}` : reply
}

/** Stable code of an SMTP failure for dead-letter headers: `SMTP_5XX`, `SMTP_4XX`, or the socket's (`ECONNREFUSED`, `ETIMEDOUT`). */
export function smtpFailureCode(err: unknown): string {
  const e = (err ?? {}) as SmtpErrorShape
  if (e.responseCode !== undefined && e.responseCode >= 400 && e.responseCode < 600) return e.responseCode >= 500 ? FailureCode.SMTP_5XX : FailureCode.SMTP_4XX
  return e.code ?? FailureCode.SMTP_FAILED
}
