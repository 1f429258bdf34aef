import { randomBytes } from 'node:crypto'

/** One recipient block of a DSN's message/delivery-status part. */
export interface DsnRecipient {
  finalRecipient: string
  action: string
  status?: string
  diagnostic?: string
}

const CRLF = '\r\n'
const lines = (...parts: string[]): string => parts.join(CRLF)

/** A DSN as Postfix writes one (RFC 3464 in an RFC 6522 multipart/report), sent back to `returnPath`. */
export function dsn(returnPath: string, recipients: DsnRecipient[]): string {
  const boundary = `dsn-${randomBytes(6).toString('hex')}`
  const blocks = recipients.map((r) => lines(
    `Final-Recipient: rfc822; ${r.finalRecipient}`,
    `Original-Recipient: rfc822;${r.finalRecipient}`,
    `Action: ${r.action}`,
    ...(r.status ? [`Status: ${r.status}`] : []),
    'Remote-MTA: dns; mail.example.com',
    // Folded, as MTAs write long diagnostics.
    ...(r.diagnostic ? [`Diagnostic-Code: smtp; ${r.diagnostic.slice(0, 40)}`, `    ${r.diagnostic.slice(40)}`] : [])
  ))
  return lines(
    'From: MAILER-DAEMON@mx.example.com (Mail Delivery System)',
    `To: ${returnPath}`,
    'Subject: Undelivered Mail Returned to Sender',
    'Date: Mon, 07 Dec 2026 12:00:00 +0000',
    `Message-ID: <${boundary}@mx.example.com>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'This is the mail system at host mx.example.com.',
    '',
    "I'm sorry to have to inform you that your message could not",
    'be delivered to one or more recipients.',
    '',
    `--${boundary}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.com',
    'X-Postfix-Queue-ID: 4dQ8yT0Wdpz1',
    'Arrival-Date: Mon,  7 Dec 2026 11:59:58 +0000 (UTC)',
    '',
    blocks.join(CRLF + CRLF),
    '',
    `--${boundary}`,
    'Content-Description: Undelivered Message Headers',
    'Content-Type: text/rfc822-headers',
    '',
    `Return-Path: <${returnPath}>`,
    'From: Social Network <noreply@socialnet.local>',
    'Subject: Welcome to Social Network',
    '',
    `--${boundary}--`,
    ''
  )
}

/** An ARF complaint (RFC 5965) about the mail sent with `returnPath`, as a mailbox provider's feedback loop sends one. */
export function arf(returnPath: string, complainant: string, feedbackType = 'abuse'): string {
  const boundary = `arf-${randomBytes(6).toString('hex')}`
  return lines(
    'From: Feedback Loop <fbl@isp.example.net>',
    `To: ${returnPath}`,
    'Subject: FW: Welcome to Social Network',
    'Date: Mon, 07 Dec 2026 12:00:00 +0000',
    `Message-ID: <${boundary}@isp.example.net>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=feedback-report; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset="US-ASCII"',
    'Content-Transfer-Encoding: 7bit',
    '',
    'This is an email abuse report for an email message received from IP',
    '192.0.2.1 on Mon, 07 Dec 2026 11:58:00 +0000.',
    '',
    `--${boundary}`,
    'Content-Type: message/feedback-report',
    '',
    `Feedback-Type: ${feedbackType}`,
    'User-Agent: SomeGenerator/1.0',
    'Version: 1',
    `Original-Mail-From: <${returnPath}>`,
    `Original-Rcpt-To: <${complainant}>`,
    'Arrival-Date: Mon, 07 Dec 2026 11:58:00 +0000',
    'Reporting-MTA: dns; mail.isp.example.net',
    'Source-IP: 192.0.2.1',
    '',
    `--${boundary}`,
    'Content-Type: message/rfc822',
    'Content-Disposition: inline',
    '',
    `Return-Path: <${returnPath}>`,
    'From: Social Network <noreply@socialnet.local>',
    `To: ${complainant}`,
    'Subject: Welcome to Social Network',
    'Date: Mon, 07 Dec 2026 11:57:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: text/plain',
    '',
    'Welcome!',
    '',
    `--${boundary}--`,
    ''
  )
}
