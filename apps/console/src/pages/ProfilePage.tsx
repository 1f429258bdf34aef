import { useState } from 'preact/hooks'
import { SignedIn } from '../components/SignedIn'
import { AvatarPanel } from '../components/AvatarPanel'
import { SendLinkAgainButton } from '../components/SendLinkAgainButton'
import { Time } from '../components/Time'

/** `/profile`: who you are to the system, a new verification link while the address is unverified, and your avatar. */
export function ProfilePage() {
  // A 409 from "Send the link again" means the link was opened meanwhile (another tab, another device).
  const [verifiedMeanwhile, setVerifiedMeanwhile] = useState(false)
  return (
    <SignedIn>
      {(user) => {
        const verified = user.emailVerified || verifiedMeanwhile
        return (
          <>
            <h1>Profile</h1>
            <dl class='facts'>
              <dt>Nickname</dt><dd>{user.nickname}</dd>
              <dt>E-mail address</dt><dd>{user.email} {verified ? <span class='badge ok'>verified</span> : <span class='badge'>not verified</span>}</dd>
              <dt>Role</dt><dd>{user.role}</dd>
              <dt>Member since</dt><dd><Time at={user.createdAt} /></dd>
            </dl>
            {!user.emailVerified && <SendLinkAgainButton email={user.email} onVerified={() => setVerifiedMeanwhile(true)} />}
            <AvatarPanel user={user} />
          </>
        )
      }}
    </SignedIn>
  )
}
