import { SignedIn } from '../components/SignedIn'
import { MyTimeline } from '../components/MyTimeline'

/** `/timeline`: every step of the signed-in person's mails, jobs and images, as it happens. */
export function TimelinePage() {
  return (
    <SignedIn>
      {(user) => (
        <>
          <h1>My timeline</h1>
          <p>Each step with the service and replica that took it, and how long it took. {user.emailVerified ? '' : 'Your address is not verified yet: the welcome mail has the link.'}</p>
          <MyTimeline />
        </>
      )}
    </SignedIn>
  )
}
