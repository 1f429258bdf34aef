import type { MailWelcomeV1 } from '@socialnet/contracts'
import { displayableNickname } from './greeting'
import { escapeHtml, htmlDocument } from './html'
import type { RenderedMail } from './rendered-mail'

/**
 * The welcome mail: greets the new user and carries the verification link.
 * The link comes from the message (the api built it from PUBLIC_URL); the
 * mailer only accepts it when it points at PUBLIC_URL, so a forged message
 * cannot turn our mail into a phishing link. The nickname is shown only
 * when it cannot read as a link, address or phone number (greeting.ts).
 */
export function renderWelcome(data: MailWelcomeV1): RenderedMail {
  const subject = 'Welcome to Social Network — please verify your e-mail'
  const nickname = displayableNickname(data.nickname)
  const text = `${nickname === undefined ? 'Hi' : `Hi ${nickname}`},

welcome to Social Network! Please confirm your e-mail address by opening this link:

${data.verificationUrl}

If you did not sign up, ignore this mail and the account stays unverified.
`
  const url = escapeHtml(data.verificationUrl)
  const html = htmlDocument(
    subject,
    `<p>${nickname === undefined ? 'Hi' : `Hi ${escapeHtml(nickname)}`},</p>
<p>welcome to Social Network! Please confirm your e-mail address:</p>
<p><a href="${url}" style="display: inline-block; padding: 0.5em 1em; background: #2a6ad8; color: #fff; text-decoration: none; border-radius: 4px;">Verify my e-mail</a></p>
<p>or open this link: <a href="${url}">${url}</a></p>
<p style="color: #777; font-size: 0.9em;">If you did not sign up, ignore this mail and the account stays unverified.</p>`
  )
  return { subject, text, html }
}
