import type { DeadLetter, DeadLetterMessage } from '@socialnet/broker'

/** The most of a body one answer carries; poison messages can be megabytes of anything. */
export const DLQ_BODY_MAX_BYTES = 64 * 1024
/** The most characters of one header string shown (a header can hold an SMTP transcript). */
const HEADER_TEXT_MAX = 2000
/** Header tables nest (x-death is a list of tables); deeper than this is shown as "…". */
const HEADER_DEPTH_MAX = 5

/**
 * A body as it can be shown safely: `utf8` when its first bytes are text (UTF-8 without control
 * characters other than tab and line breaks), otherwise `base64` of those bytes. Never HTML:
 * whoever shows it escapes it as text.
 */
export interface ShownBody {
  encoding: 'utf8' | 'base64'
  data: string
  /** The whole body's size. */
  bytes: number
  /** True when `data` holds only the first DLQ_BODY_MAX_BYTES (or a few bytes less: a character is never cut). */
  truncated: boolean
}

/** One dead letter for `GET /v1/admin/dlq/{queue}/messages/{messageId}` and `npm run dlq -- show`. */
export interface ShownDeadLetter {
  message: DeadLetter
  properties: Record<string, unknown>
  headers: Record<string, unknown>
  body: ShownBody
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Text or base64, capped: see ShownBody. */
export function showBody(content: Buffer, max = DLQ_BODY_MAX_BYTES): ShownBody {
  const truncated = content.length > max
  const head = content.subarray(0, max)
  // A cut can split a multi-byte character: drop its first bytes (at most 3) rather than call the body binary.
  for (let cut = 0; cut <= (truncated ? 3 : 0); cut++) {
    const text = decodeText(head.subarray(0, head.length - cut))
    if (text !== null) return { encoding: 'utf8', data: text, bytes: content.length, truncated }
  }
  return { encoding: 'base64', data: head.toString('base64'), bytes: content.length, truncated }
}

function decodeText(bytes: Buffer): string | null {
  try {
    const text = utf8.decode(bytes)
    return CONTROL.test(text) ? null : text
  } catch {
    return null
  }
}

/**
 * Header and property values made JSON-safe and bounded: byte arrays become `{base64}`, long
 * strings are cut, deep tables end in "…". amqplib decodes the rest to strings, numbers,
 * booleans, lists and tables already.
 */
export function jsonSafe(value: unknown, depth = 0): unknown {
  if (Buffer.isBuffer(value)) return { base64: value.subarray(0, HEADER_TEXT_MAX).toString('base64'), bytes: value.length }
  if (typeof value === 'string') return value.length > HEADER_TEXT_MAX ? `${value.slice(0, HEADER_TEXT_MAX)}…` : value
  if (typeof value === 'bigint') return value.toString()
  if (value === null || typeof value !== 'object') return value
  if (depth >= HEADER_DEPTH_MAX) return '…'
  if (Array.isArray(value)) return value.map((v) => jsonSafe(v, depth + 1))
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v, depth + 1)]))
}

/** The broker's dead letter, shaped for an answer. */
export function showDeadLetter(found: DeadLetterMessage): ShownDeadLetter {
  const { timestamp, ...properties } = found.properties
  return {
    message: found.letter,
    // AMQP timestamps are seconds since the epoch.
    properties: jsonSafe(typeof timestamp === 'number' ? { ...properties, timestamp: new Date(timestamp * 1000).toISOString() } : properties) as Record<string, unknown>,
    headers: jsonSafe(found.headers) as Record<string, unknown>,
    body: showBody(found.body)
  }
}
