import { randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'

/** Standard Webhooks headers (https://www.standardwebhooks.com). */
export const WEBHOOK_HEADERS = { id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' } as const

/** Secret sizes the Standard Webhooks spec recommends (24..64 random bytes). */
const MIN_SECRET_BYTES = 24
const MAX_SECRET_BYTES = 64
const SECRET_PATTERN = /^whsec_[A-Za-z0-9+/]+={0,2}$/

/** An unusable CALLBACK_SECRET; the message names the problem, never the secret. */
export class CallbackSecretError extends Error {
  readonly code = 'CALLBACK_SECRET_INVALID'
}

/**
 * CALLBACK_SECRET -> the secrets that sign, in order: comma-separated
 * `whsec_<base64 of 24..64 random bytes>`. Several while rotating: every one
 * signs, so receivers can switch to the new secret at their own pace.
 */
export function parseCallbackSecrets(csv: string): string[] {
  const secrets = csv.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
  if (secrets.length === 0) throw new CallbackSecretError('CALLBACK_SECRET must name at least one whsec_ secret')
  secrets.forEach((secret, i) => {
    const where = secrets.length > 1 ? ` (secret ${i + 1} of ${secrets.length})` : ''
    if (!SECRET_PATTERN.test(secret)) throw new CallbackSecretError(`CALLBACK_SECRET${where} must look like whsec_<base64>`)
    const bytes = Buffer.from(secret.slice('whsec_'.length), 'base64').length
    if (bytes < MIN_SECRET_BYTES || bytes > MAX_SECRET_BYTES) {
      throw new CallbackSecretError(`CALLBACK_SECRET${where} must hold ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} random bytes (it holds ${bytes})`)
    }
  })
  return secrets
}

/** A fresh secret in the format above (the development default; `openssl rand -base64 32` does the same). */
export function generateCallbackSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`
}

/**
 * Signs callbacks with the `standardwebhooks` reference library: HMAC-SHA256
 * over `<webhook-id>.<webhook-timestamp>.<body>`, one `v1,<base64>` per
 * secret, space-separated.
 */
export class WebhookSigner {
  private readonly webhooks: Webhook[]

  constructor(secrets: readonly string[]) {
    this.webhooks = secrets.map((secret) => new Webhook(secret))
  }

  /** The three headers for one delivery attempt of message `id` (stable across retries). */
  headers(id: string, body: string, at = new Date()): Record<string, string> {
    return {
      [WEBHOOK_HEADERS.id]: id,
      [WEBHOOK_HEADERS.timestamp]: String(Math.floor(at.getTime() / 1000)),
      [WEBHOOK_HEADERS.signature]: this.webhooks.map((w) => w.sign(id, at, body)).join(' ')
    }
  }
}
