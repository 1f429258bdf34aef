import { FormatRegistry } from '@sinclair/typebox'

/**
 * The string formats the message schemas use. TypeBox checks formats only
 * when they are registered; registering here (once, guarded) means every
 * process that validates messages agrees on what `email` and `uri` mean.
 * The checks are deliberately plain: a consumer in another language reads
 * the same `format` keywords from the exported JSON Schema files.
 */
// One @ with something on both sides, no whitespace or control characters
// (those would let a value smuggle extra SMTP headers or recipients).
// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const EMAIL = /^[^\s@<>()[\],;:"\\\u0000-\u001f\u007f]+@[^\s@<>()[\],;:"\\\u0000-\u001f\u007f]+\.[^\s@<>()[\],;:"\\\u0000-\u001f\u007f]+$/

/**
 * What no address we mail may have, whatever its syntax allows: a `%` (the
 * old source-routing trick, `a%evil.com@example.com`, that some relays still
 * forward to evil.com), and a domain that is an IP literal (`x@[127.0.0.1]`,
 * `x@127.0.0.1`, `x@127.1`; no top-level domain is all digits), which would
 * send our mail to whatever address a stranger names, internal ones included.
 * Kept as a pattern string so the exported JSON Schemas carry the rule too.
 */
export const EMAIL_ADDRESS_PATTERN = '^(?!.*%)(?!.*@\\[)(?!.*[.@][0-9]+\\.?$)[^@]+@[^@]+$'
const SAFE_EMAIL = new RegExp(EMAIL_ADDRESS_PATTERN)

/** True for an address every mail path accepts: the plain syntax above, and none of the refused forms. */
export function isEmailAddress(value: string): boolean {
  return value.length <= 254 && EMAIL.test(value) && SAFE_EMAIL.test(value)
}

if (!FormatRegistry.Has('email')) {
  FormatRegistry.Set('email', isEmailAddress)
}

if (!FormatRegistry.Has('uri')) {
  FormatRegistry.Set('uri', (value) => {
    try {
      const url = new URL(value)
      return url.protocol === 'http:' || url.protocol === 'https:'
    } catch {
      return false
    }
  })
}
