import * as argon2 from 'argon2'

/**
 * Length limits checked by the request schema, before any hashing: argon2 cost
 * does not grow with the input, but parsing and copying a huge password still
 * would, and no one types more than 128 characters (<= 512 bytes of UTF-8).
 */
export const PASSWORD_MIN_LENGTH = 8
export const PASSWORD_MAX_LENGTH = 128

/** OWASP Password Storage Cheat Sheet, argon2id: 19 MiB memory, 2 iterations, 1 lane. */
const HASH_OPTIONS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const

/** Hashes a password as an encoded argon2id string (algorithm, parameters and salt included). */
export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, HASH_OPTIONS)
}

/** True when `password` matches the stored hash; a malformed hash counts as a mismatch. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password)
  } catch {
    return false
  }
}
