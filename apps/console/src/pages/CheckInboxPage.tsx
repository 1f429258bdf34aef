import { useLocation } from 'preact-iso/router'
import { sessionToken } from '../session/token'
import { MyTimeline } from '../components/MyTimeline'

/** `/check-inbox`: after registering, where the link went, and the welcome mail's journey live. */
export function CheckInboxPage() {
  const { query } = useLocation()
  return (
    <>
      <h1>Check your inbox</h1>
      <p>
        We sent a verification link to <strong>{query.email || 'your e-mail address'}</strong>.
        Open it to verify the address; it stays valid for two days.
      </p>
      {sessionToken.value
        ? <MyTimeline />
        : <p><a href='/login'>Log in</a> to watch the mail travel.</p>}
    </>
  )
}
