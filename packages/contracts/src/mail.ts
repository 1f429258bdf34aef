import { Type, type Static } from '@sinclair/typebox'
import { EMAIL_ADDRESS_PATTERN } from './formats'

/** An e-mail address as the mailer accepts it (no display name, no whitespace, no `%`, no IP-literal domain). */
export const EmailAddress = Type.String({ format: 'email', pattern: EMAIL_ADDRESS_PATTERN, minLength: 3, maxLength: 254 })

/**
 * `mail.welcome.v1`: sent once per registration. Carries the template's data,
 * not rendered text, so wording and layout change in the mailer alone.
 */
export const MailWelcomeV1 = Type.Object(
  {
    to: EmailAddress,
    nickname: Type.String({ minLength: 1, maxLength: 200 }),
    verificationUrl: Type.String({ format: 'uri', maxLength: 2048 })
  },
  { $id: 'mail.welcome.v1', title: 'Welcome e-mail with the address verification link', additionalProperties: false }
)
/** Payload of `mail.welcome.v1`. */
export type MailWelcomeV1 = Static<typeof MailWelcomeV1>

/**
 * `mail.send.v1`: a ready-made mail (the async job API's `email` job). The
 * subject is one line: a CR or LF there could start a forged header.
 */
export const MailSendV1 = Type.Object(
  {
    to: EmailAddress,
    subject: Type.String({ minLength: 1, maxLength: 998, pattern: '^[^\\r\\n]*$' }),
    text: Type.String({ maxLength: 1_000_000 }),
    html: Type.Optional(Type.String({ maxLength: 1_000_000 })),
    /** Optional id of the job that asked for this mail, for logs and job status. */
    jobId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 }))
  },
  { $id: 'mail.send.v1', title: 'A ready-made e-mail (subject, text, optional HTML)', additionalProperties: false }
)
/** Payload of `mail.send.v1`. */
export type MailSendV1 = Static<typeof MailSendV1>
