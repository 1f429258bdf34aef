import { SignedIn } from '../components/SignedIn'
import { AvatarPanel } from '../components/AvatarPanel'

/** `/profile`: who you are to the system, and your avatar. */
export function ProfilePage() {
  return (
    <SignedIn>
      {(user) => (
        <>
          <h1>Profile</h1>
          <dl class='facts'>
            <dt>Nickname</dt><dd>{user.nickname}</dd>
            <dt>E-mail address</dt><dd>{user.email} {user.emailVerified ? <span class='badge ok'>verified</span> : <span class='badge'>not verified</span>}</dd>
            <dt>Role</dt><dd>{user.role}</dd>
            <dt>Member since</dt><dd>{new Date(user.createdAt).toLocaleString()}</dd>
          </dl>
          <AvatarPanel user={user} />
        </>
      )}
    </SignedIn>
  )
}
