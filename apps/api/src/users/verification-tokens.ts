import { createHash, randomBytes } from 'node:crypto'

/** A new e-mail verification token: 256 random bits, URL-safe. Only its hash is stored. */
export function newVerificationToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString('base64url')
  return { token, hash: hashVerificationToken(token) }
}

/** The stored form of a token: SHA-256 is enough for 256-bit random secrets (no brute force to slow down). */
export function hashVerificationToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}

/**
 * The link sent in the welcome mail: the console's Verify page, which calls
 * `GET /v1/users/verify?token=` and shows the outcome to a person (a mail
 * link that opened raw JSON would read as an error). PUBLIC_URL may carry a
 * path prefix, which is kept.
 */
export function verificationUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/verify?token=${encodeURIComponent(token)}`
}
