import { dictionary } from '@zxcvbn-ts/language-common'
import { WeakPasswordError } from '../errors'

/**
 * The ~50,000 most common passwords of zxcvbn-ts's maintained list (lower
 * case; from leaked-password corpora), the ones credential-stuffing and
 * spraying tools try first. NIST SP 800-63B asks to refuse them.
 */
const COMMON_PASSWORDS = new Set(dictionary['passwords-common'])

/**
 * Throws WeakPasswordError (400) naming the rule a new password breaks.
 * Length is the request schema's job; this checks what a schema cannot.
 */
export function checkNewPassword(password: string): void {
  if (password.trim() === '') throw new WeakPasswordError('must not be only spaces or other whitespace')
  if (COMMON_PASSWORDS.has(password.toLowerCase())) {
    throw new WeakPasswordError('is one of the most commonly used passwords, which attackers try first; choose another')
  }
}
