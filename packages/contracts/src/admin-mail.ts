import { Type, type Static } from '@sinclair/typebox'

/*
 * The admin mail routes' bodies (`/v1/admin/mail`, `/v1/admin/suppressions`):
 * the api validates and documents its answers with these schemas, and the
 * console reads the same types.
 */

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])

/** What became of one attempt to deliver a mail. */
export const AttemptOutcome = Type.Union([
  Type.Literal('sent'), Type.Literal('deferred'), Type.Literal('bounced'), Type.Literal('suppressed'), Type.Literal('throttled')
], { description: 'sent: the server took it; deferred: a 4xx, retried later; bounced: refused for good (or a bounce came back); suppressed: not sent, the address is suppressed; throttled: held back by the per-domain pace' })
export type AttemptOutcome = Static<typeof AttemptOutcome>

/** One line of the delivery log. */
export const MailAttemptBody = Type.Object({
  messageId: Type.String(),
  at: Type.String({ format: 'date-time' }),
  outcome: AttemptOutcome,
  smtpCode: Nullable(Type.Integer({ description: 'the SMTP reply code (250, 421, 550…), when there was a reply' })),
  smtpReply: Nullable(Type.String({ description: 'the reply text, a bounce\'s diagnostic, or why it was not sent' })),
  replica: Type.String({ description: 'the mailer replica (or the bounce receiver) that wrote it' }),
  durationMs: Nullable(Type.Integer({ minimum: 0 }))
})
export type MailAttemptBody = Static<typeof MailAttemptBody>

/** Why an address is suppressed. */
export const SuppressionReason = Type.Union([
  Type.Literal('hard_bounce'), Type.Literal('soft_bounce_limit'), Type.Literal('complaint'), Type.Literal('manual')
])
export type SuppressionReason = Static<typeof SuppressionReason>

/** An address the mailers no longer send to, and why. */
export const SuppressionBody = Type.Object({
  address: Type.String({ description: 'lower-cased' }),
  reason: SuppressionReason,
  source: Type.String({ description: 'who said so: dsn, arf, smtp (a refusal at RCPT), admin or cli' }),
  detail: Nullable(Type.String({ description: 'the last report\'s status or reply text, or the operator\'s note' })),
  firstSeenAt: Type.String({ format: 'date-time' }),
  lastSeenAt: Type.String({ format: 'date-time' }),
  count: Type.Integer({ minimum: 1, description: 'reports (or manual additions) heard for it' })
})
export type SuppressionBody = Static<typeof SuppressionBody>

/** `GET /v1/admin/mail?to=`: a recipient's attempts, newest first, and why mail to it may not go out. */
export const RecipientMailBody = Type.Object({
  address: Type.String({ description: 'the recipient, lower-cased' }),
  suppression: Nullable(SuppressionBody),
  attempts: Type.Array(MailAttemptBody),
  nextCursor: Nullable(Type.String({ description: 'pass as `cursor` for the next (older) page; null on the last' }))
})
export type RecipientMailBody = Static<typeof RecipientMailBody>

/** `GET /v1/admin/mail/{messageId}`: every attempt of one mail, oldest first. */
export const MessageMailBody = Type.Object({
  messageId: Type.String(),
  recipient: Type.String(),
  suppression: Nullable(SuppressionBody),
  attempts: Type.Array(MailAttemptBody)
})
export type MessageMailBody = Static<typeof MessageMailBody>

/** `GET /v1/admin/suppressions`: a page of the list in address order. */
export const SuppressionListBody = Type.Object({
  suppressions: Type.Array(SuppressionBody),
  nextCursor: Nullable(Type.String({ description: 'pass as `cursor` for the next page; null on the last' }))
})
export type SuppressionListBody = Static<typeof SuppressionListBody>

/** `PUT /v1/admin/suppressions/{address}` (optional body). */
export const SuppressRequestBody = Type.Object({
  note: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'why, for the next operator (kept as the detail)' }))
}, { additionalProperties: false })
export type SuppressRequestBody = Static<typeof SuppressRequestBody>
