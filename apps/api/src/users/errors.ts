import createError from '@fastify/error'

export const EmailTakenError = createError<[]>('EMAIL_TAKEN', 'email: this e-mail address is already registered', 409)
export const NicknameTakenError = createError<[]>('NICKNAME_TAKEN', 'nickname: this nickname is already taken', 409)
export const NicknameTooSimilarError = createError<[]>('NICKNAME_TOO_SIMILAR',
  'nickname: looks like a nickname that is already taken (look-alike characters such as I and l, 0 and O, rn and m count as the same)', 409)
export const InvalidTokenError = createError<[]>('INVALID_TOKEN', 'token: invalid or expired verification token', 400)
export const UserNotFoundError = createError<[]>('USER_NOT_FOUND', 'no such user', 404)
