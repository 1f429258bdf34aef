import type { AnyConsumedMessage } from '@socialnet/broker'
import { PermanentError } from '@socialnet/broker'
import { FailureCode } from '../errors'
import { renderWelcome } from './welcome'
import type { RenderedMail } from './rendered-mail'

/**
 * Turns a mail message into the mail to send. Messages that are valid but
 * cannot be rendered safely (a welcome link not under PUBLIC_URL, a type
 * the mailer does not send) fail permanently: retrying cannot fix them.
 */
export function renderMail(message: AnyConsumedMessage, publicUrl: string): RenderedMail & { to: string } {
  switch (message.type) {
    case 'mail.welcome.v1': {
      const { payload } = message
      if (!isUnder(payload.verificationUrl, publicUrl)) {
        throw new PermanentError(`verificationUrl is not under PUBLIC_URL (${publicUrl})`, { code: FailureCode.INVALID_MESSAGE })
      }
      return { to: payload.to, ...renderWelcome(payload) }
    }
    case 'mail.send.v1': {
      const { to, subject, text, html } = message.payload
      return { to, subject, text, html }
    }
    default:
      throw new PermanentError(`the mailer does not send ${message.type} messages`, { code: FailureCode.INVALID_MESSAGE })
  }
}

function isUnder(link: string, base: string): boolean {
  const url = new URL(link)
  const root = new URL(base)
  const path = root.pathname.endsWith('/') ? root.pathname : `${root.pathname}/`
  return url.origin === root.origin && (url.pathname + '/').startsWith(path)
}
