import sanitizeHtml from 'sanitize-html'
import { USER_ID_HEADER, userIdOf, type Publisher } from '@socialnet/broker'
import type { JobEmailV1 } from '@socialnet/contracts'

/**
 * What job mail HTML may keep: sanitize-html's default text-formatting tags
 * (no script, style, iframe, form or img: nothing runs, and no remote image
 * tracks the reader), links only to http(s) and mailto, and no attributes
 * but a link's href/name/target, so no `on*=` handler survives.
 */
const MAIL_HTML: sanitizeHtml.IOptions = {
  allowedTags: sanitizeHtml.defaults.allowedTags,
  allowedAttributes: { a: ['href', 'name', 'target'] },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard'
}

/** Job mail HTML as it may be sent under our name (see MAIL_HTML). */
export function sanitizeMailHtml(html: string): string {
  return sanitizeHtml(html, MAIL_HTML)
}

/**
 * `email` job: hands the mail to the mail pipeline as `mail.send.v1` and is
 * done once the broker confirmed it. The HTML is sanitized here, the one
 * place user-written HTML enters the mail pipeline. The job id is the mail's
 * messageId, so the mailer's dedupe turns a republish after a worker crash
 * into one mail. The job's owner (its message's `x-user-id` header) goes
 * along, so the mailer's events reach the owner's own event stream.
 */
export function emailJobWork(publisher: Publisher) {
  return async (payload: JobEmailV1, headers: Record<string, unknown> = {}): Promise<{ mail: string }> => {
    const { jobId, to, subject, text, html } = payload
    const owner = userIdOf(headers)
    await publisher.publish({
      type: 'mail.send.v1',
      messageId: jobId,
      payload: html === undefined ? { to, subject, text, jobId } : { to, subject, text, html: sanitizeMailHtml(html), jobId },
      headers: owner ? { [USER_ID_HEADER]: owner } : undefined
    })
    return { mail: 'queued for the mailer' }
  }
}
