import { createHmac, timingSafeEqual } from 'node:crypto'

/** Where bounces for our mail go: `<local>+<messageId>.<tag>@<domain>`. */
export interface VerpConfig {
  /** BOUNCE_LOCAL (default `bounces`). */
  local: string
  /** BOUNCE_DOMAIN: its MX points at the bounce receiver. */
  domain: string
  /** BOUNCE_SECRET: keys the tag, so nobody can forge a bounce for a message we sent. */
  secret: string
}

// 80 bits of HMAC-SHA256 in lower-case hex: short enough for a local part (64
// octets at most), and lower case survives a receiving system that folds case.
const TAG_HEX_CHARS = 20
// Message ids we put in a local part: our UUIDs and job ids. Anything else is
// not ours, and a local part must not carry `@`, spaces or quotes anyway.
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,40}$/

function tagOf(secret: string, messageId: string): string {
  return createHmac('sha256', secret).update(messageId).digest('hex').slice(0, TAG_HEX_CHARS)
}

/**
 * The VERP return path of one message: the envelope sender a bounce comes
 * back to. Undefined when the message id cannot be carried in a local part
 * (the mail is then sent with the plain sender and its bounces go unheard).
 */
export function verpReturnPath(config: VerpConfig, messageId: string): string | undefined {
  if (!MESSAGE_ID.test(messageId)) return undefined
  return `${config.local}+${messageId}.${tagOf(config.secret, messageId)}@${config.domain}`
}

/** Why a recipient address is not a bounce for one of our messages. */
export type VerpRejection = 'not_bounce_address' | 'bad_tag'

/**
 * The message id a bounce address names, once its tag verifies; otherwise
 * why not. The local part and domain compare case-insensitively (mail
 * systems fold them); the message id keeps its case, as it was signed.
 */
export function parseVerpAddress(config: VerpConfig, address: string): { messageId: string } | { rejected: VerpRejection } {
  const at = address.lastIndexOf('@')
  if (at < 0 || address.slice(at + 1).toLowerCase() !== config.domain.toLowerCase()) return { rejected: 'not_bounce_address' }
  const local = address.slice(0, at)
  const prefix = `${config.local}+`
  if (local.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase()) return { rejected: 'not_bounce_address' }
  const rest = local.slice(prefix.length)
  const dot = rest.lastIndexOf('.')
  if (dot <= 0) return { rejected: 'bad_tag' }
  const messageId = rest.slice(0, dot)
  const tag = rest.slice(dot + 1).toLowerCase()
  if (!MESSAGE_ID.test(messageId) || tag.length !== TAG_HEX_CHARS) return { rejected: 'bad_tag' }
  const expected = Buffer.from(tagOf(config.secret, messageId))
  return timingSafeEqual(expected, Buffer.from(tag)) ? { messageId } : { rejected: 'bad_tag' }
}
