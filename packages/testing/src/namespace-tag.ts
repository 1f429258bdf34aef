import { randomBytes } from 'node:crypto'

/** Width of the creation time in a tag: base36 seconds, zero-padded (7 digits last until the year 4453). */
const TIME_DIGITS = 7
const NEW_TAG = /^([0-9a-z]{7})([0-9a-f]{6})$/
/** Tags made before they carried a time: 8 random hex digits. */
const OLD_TAG = /^[0-9a-f]{8}$/

/**
 * The unique part of a test namespace's names: its creation time (base36
 * seconds) then 6 random hex digits, e.g. `0tb2x5k3fa91c`. Lower-case
 * letters and digits only, so it fits a database name, an AMQP prefix and a
 * Redis key alike; the time lets a later run tell a namespace left behind
 * (older than any run) from one another run is using right now.
 */
export function namespaceTag(createdAt = Date.now()): string {
  return Math.floor(createdAt / 1000).toString(36).padStart(TIME_DIGITS, '0') + randomBytes(3).toString('hex')
}

/**
 * When the namespace of `tag` was made: a Date for a tag from namespaceTag,
 * `'unknown'` for an older tag (random hex only), undefined for anything that
 * is not a tag at all.
 */
export function tagCreatedAt(tag: string): Date | 'unknown' | undefined {
  const match = NEW_TAG.exec(tag)
  if (match) return new Date(parseInt(match[1]!, 36) * 1000)
  return OLD_TAG.test(tag) ? 'unknown' : undefined
}
