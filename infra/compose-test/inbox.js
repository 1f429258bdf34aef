'use strict'
/**
 * The mail inbox of the compose stack as the test reads it, through its published web port:
 * Mailpit's REST API (/api/v1/...), or MailDev's (/email) when `npm run images:local`
 * stood MailDev in for Mailpit. Both answer with every message's id, recipients, subject
 * and, per message, its text body and envelope sender (the Return-Path).
 */
class Inbox {
  constructor(baseUrl) {
    this.baseUrl = baseUrl
    this.kind = undefined
  }

  async get(path) {
    const response = await fetch(`${this.baseUrl}${path}`, { signal: AbortSignal.timeout(10_000) })
    if (!response.ok) throw new Error(`inbox GET ${path}: ${response.status}`)
    return response.json()
  }

  async detect() {
    if (this.kind) return this.kind
    const mailpit = await fetch(`${this.baseUrl}/api/v1/info`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined)
    this.kind = mailpit?.ok ? 'mailpit' : 'maildev'
    return this.kind
  }

  /** Every message: `{ id, to: [address], subject }`. */
  async list() {
    if ((await this.detect()) === 'mailpit') {
      const { messages } = await this.get('/api/v1/messages?limit=5000')
      return messages.map((m) => ({ id: m.ID, to: m.To.map((t) => t.Address.toLowerCase()), subject: m.Subject }))
    }
    const messages = await this.get('/email')
    return messages.map((m) => ({ id: m.id, to: m.to.map((t) => t.address.toLowerCase()), subject: m.subject }))
  }

  /** The text body of one message. */
  async text(id) {
    if ((await this.detect()) === 'mailpit') return (await this.get(`/api/v1/message/${id}`)).Text
    return (await this.get(`/email/${id}`)).text
  }

  /**
   * The envelope sender (MAIL FROM) of one message, without angle brackets: Mailpit's
   * ReturnPath (else the Return-Path header it adds), MailDev's envelope.from (else the header).
   */
  async returnPath(id) {
    const bare = (value) => String([value].flat()[0] ?? '').trim().replace(/^<(.*)>$/, '$1') || undefined
    if ((await this.detect()) === 'mailpit') {
      const message = await this.get(`/api/v1/message/${id}`)
      return bare(message.ReturnPath) ?? bare((await this.get(`/api/v1/message/${id}/headers`))['Return-Path'])
    }
    const message = await this.get(`/email/${id}`)
    return bare(message.envelope?.from?.address) ?? bare(message.headers?.['return-path'])
  }

  /** How many messages each of `addresses` received (0 for none). */
  async countsFor(addresses) {
    const counts = new Map(addresses.map((a) => [a.toLowerCase(), 0]))
    for (const message of await this.list()) {
      for (const to of message.to) if (counts.has(to)) counts.set(to, counts.get(to) + 1)
    }
    return counts
  }
}

module.exports = { Inbox }
