/*
 * Every failure code the mailer itself puts on a mail message it retries or
 * dead-letters (the `code` of its PermanentError/TransientError). The codes
 * reach dead-letter headers, the DLQ tools and logs, so they never change once
 * shipped. docs/errors.md lists each one, and test/errors-doc.unit.test.ts
 * fails when the two disagree.
 */
export const FailureCode = {
  // Dead-lettered at once: the message itself is at fault.
  INVALID_MESSAGE: 'INVALID_MESSAGE',
  // SMTP failures by reply class (a 5xx to MAIL FROM or the message is dead-lettered at once, a
  // 5xx to RCPT TO is a hard bounce and acked, any other retried); SMTP_FAILED when there is
  // neither a reply nor a socket code to name it.
  SMTP_5XX: 'SMTP_5XX',
  SMTP_4XX: 'SMTP_4XX',
  SMTP_FAILED: 'SMTP_FAILED',
  // Retried: another mailer still holds this message's delivery claim.
  MAIL_CLAIMED_ELSEWHERE: 'MAIL_CLAIMED_ELSEWHERE',
  // Deferred (not an attempt): the receiving domain is out of sending tokens. Retried
  // only once the message has been deferred past the consumer's maximum deferral.
  MAIL_THROTTLED: 'MAIL_THROTTLED'
} as const
export type FailureCode = typeof FailureCode[keyof typeof FailureCode]
