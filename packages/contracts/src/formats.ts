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

if (!FormatRegistry.Has('email')) {
  FormatRegistry.Set('email', (value) => value.length <= 254 && EMAIL.test(value))
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
