import { Type, type Static } from '@sinclair/typebox'
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './passwords'

/** Printable text without control characters (names end up in mails and HTML; Postgres text refuses NUL). */
export const NO_CONTROL_CHARS = '^[^\\u0000-\\u001f\\u007f]*$'

export const Email = Type.String({ format: 'email', maxLength: 254, description: 'unique, case-insensitively' })
export const Nickname = Type.String({
  pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{2,31}$',
  description: '3-32 characters: letters, digits, _ . - (not starting with . or -); unique, case-insensitively'
})
export const Password = Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH, description: `${PASSWORD_MIN_LENGTH}-${PASSWORD_MAX_LENGTH} characters` })
export const PersonName = Type.String({ minLength: 1, maxLength: 100, pattern: NO_CONTROL_CHARS })
// A plain pattern, not format 'uuid': ajv's format also accepts a 'urn:uuid:' prefix, which Postgres would not.
export const UserId = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$', description: 'UUID' })

export const RegisterBody = Type.Object({
  email: Email,
  nickname: Nickname,
  password: Password,
  firstName: Type.Optional(PersonName),
  lastName: Type.Optional(PersonName)
}, { additionalProperties: false })
export type RegisterBody = Static<typeof RegisterBody>

/** Whether the welcome/verification mail was queued, or withheld by a mail limit (ask again with POST /v1/users/me/verification). */
export const VerificationMailStatus = Type.Union([Type.Literal('queued'), Type.Literal('withheld')], {
  description: '`queued`: the mail with the verification link is on its way. `withheld`: this mailbox had its ' +
    'welcome mails for today, or the per-minute mail ceiling was reached; the account exists, and its owner can ' +
    'log in and ask for the mail with POST /v1/users/me/verification later'
})

export const UserCreated = Type.Object({
  id: UserId,
  nickname: Type.String(),
  email: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  verificationMail: VerificationMailStatus
})

export const VerificationQueued = Type.Object({ verificationMail: Type.Literal('queued') })

/** What anyone may see about a user: no e-mail address (that is for the owner's GET /v1/users/me). */
export const PublicProfile = Type.Object({
  id: UserId,
  nickname: Type.String(),
  firstName: Type.Union([Type.String(), Type.Null()]),
  lastName: Type.Union([Type.String(), Type.Null()]),
  emailVerified: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' })
})

export const UserParams = Type.Object({ id: UserId })

export const VerifyQuery = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 128, description: 'the token from the welcome mail' })
})

export const Verified = Type.Object({
  id: UserId,
  emailVerifiedAt: Type.String({ format: 'date-time' })
})
