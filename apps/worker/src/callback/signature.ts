import { createHmac, timingSafeEqual } from 'node:crypto'

/** Header carrying the callback signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`. */
export const SIGNATURE_HEADER = 'x-signature'

/** HMAC-SHA256 over `<timestamp>.<body>`: the timestamp is signed too, so a captured request cannot be replayed later. */
function digest(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')
}

/** The X-Signature value for `body` sent at `timestamp` (unix seconds). */
export function signCallback(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  return `t=${timestamp},v1=${digest(secret, timestamp, body)}`
}

/**
 * What a receiver runs (kept here as the reference implementation the docs
 * point to): true when `header` signs exactly `body` with `secret` and its
 * timestamp is within `toleranceSeconds` of now. Compares in constant time.
 */
export function verifyCallbackSignature(
  secret: string,
  header: string | undefined,
  body: string,
  opts: { toleranceSeconds?: number; now?: number } = {}
): boolean {
  if (!header) return false
  const parts = new Map(header.split(',').map((p) => {
    const eq = p.indexOf('=')
    return [p.slice(0, eq).trim(), p.slice(eq + 1).trim()] as const
  }))
  const timestamp = Number(parts.get('t'))
  const given = parts.get('v1') ?? ''
  if (!Number.isInteger(timestamp) || !/^[0-9a-f]{64}$/.test(given)) return false
  const now = opts.now ?? Math.floor(Date.now() / 1000)
  if (Math.abs(now - timestamp) > (opts.toleranceSeconds ?? 300)) return false
  return timingSafeEqual(Buffer.from(given, 'hex'), Buffer.from(digest(secret, timestamp, body), 'hex'))
}
