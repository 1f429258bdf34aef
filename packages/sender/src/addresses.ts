/**
 * Recipient address keys. An address is compared lower-cased everywhere
 * (the suppression list, the delivery log); the *mailbox* behind it also
 * drops a `+tag`, because `victim+a1@x` and `victim+a2@x` land in one inbox
 * and a per-mailbox limit that counted them apart would be no limit at all.
 */

/** The address as the suppression list and delivery log key it: trimmed, lower-cased. */
export function addressKey(address: string): string {
  return address.trim().toLowerCase()
}

/** The mailbox an address delivers to, for counting only: lower-cased, `+tag` removed from the local part. */
export function mailboxKey(address: string): string {
  const key = addressKey(address)
  const at = key.lastIndexOf('@')
  if (at <= 0) return key
  const local = key.slice(0, at)
  const plus = local.indexOf('+')
  return plus > 0 ? `${local.slice(0, plus)}${key.slice(at)}` : key
}

/** The receiving domain of an address (lower-cased; '' when there is no `@`). */
export function domainOf(address: string): string {
  const at = address.lastIndexOf('@')
  return at < 0 ? '' : address.slice(at + 1).trim().toLowerCase()
}
