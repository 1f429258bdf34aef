import { useLocation } from 'preact-iso/router'
import { sessionToken } from '../session/token'
import { MyTimeline } from '../components/MyTimeline'
import { SendLinkAgainButton } from '../components/SendLinkAgainButton'

/** Why no link went out at registration (`verificationMail: "withheld"`), in a person's words. */
function LinkNotSentYet({ email }: { email: string | undefined }) {
  const { url } = useLocation()
  return (
    <>
      <h1>Your account is ready</h1>
      <p>
        <strong>We have not sent a verification link</strong> to <strong>{email || 'your e-mail address'}</strong> yet.
        The server does not say which of two reasons held it back:
      </p>
      <ul>
        <li>A mail from us already went to this mailbox today. Each mailbox gets one a day, so no one can fill an inbox by signing up again and again.</li>
        <li>We are sending many mails right now, and hold some back for a minute.</li>
      </ul>
      {sessionToken.value
        ? <SendLinkAgainButton email={email} />
        : <p><a href={`/login?next=${encodeURIComponent(url)}`}>Log in</a> to ask for the link again.</p>}
    </>
  )
}

/** `/check-inbox?email=…[&mail=withheld]`: after registering, where the link went (or why it did not yet), and the mail's journey live. */
export function CheckInboxPage() {
  const { query } = useLocation()
  return (
    <>
      {query.mail === 'withheld'
        ? <LinkNotSentYet email={query.email} />
        : (
          <>
            <h1>Check your inbox</h1>
            <p>
              We sent a verification link to <strong>{query.email || 'your e-mail address'}</strong>.
              Open it to verify the address; it stays valid for two days.
            </p>
          </>
          )}
      {sessionToken.value
        ? <MyTimeline />
        : <p><a href='/login'>Log in</a> to watch the mail travel.</p>}
    </>
  )
}
