import { useEffect, useState } from 'preact/hooks'
import { useLocation } from 'preact-iso/router'
import { api } from '../api/client'
import type { Verified } from '../api/types'
import { loadMe, me } from '../session/session'
import { sessionToken } from '../session/token'
import { ErrorMessage } from '../components/Form'
import { SendLinkAgainButton } from '../components/SendLinkAgainButton'

type Outcome = { kind: 'checking' } | { kind: 'verified'; at: string } | { kind: 'failed'; error: unknown }

/** `/verify?token=…`: where the welcome mail's link lands; asks the API and says how it went. */
export function VerifyPage() {
  const { query } = useLocation()
  const token = query.token ?? ''
  const [outcome, setOutcome] = useState<Outcome>({ kind: 'checking' })

  useEffect(() => {
    if (!token) {
      setOutcome({ kind: 'failed', error: new Error('This link has no token. Open the link from the welcome mail as it is.') })
      return
    }
    api.get<Verified>(`/v1/users/verify?token=${encodeURIComponent(token)}`).then(
      (verified) => {
        setOutcome({ kind: 'verified', at: verified.emailVerifiedAt })
        if (sessionToken.value) void loadMe().catch(() => undefined)
      },
      (error: unknown) => setOutcome({ kind: 'failed', error })
    )
  }, [token])

  return (
    <>
      <h1>Verify your e-mail address</h1>
      {outcome.kind === 'checking' && <p role='status' aria-busy='true'>Checking the link…</p>}
      {outcome.kind === 'verified' && (
        <div role='status'>
          <p class='success'>Your e-mail address is verified.</p>
          <p>{sessionToken.value ? <a href='/profile'>Go to your profile</a> : <a href='/login'>Log in</a>}</p>
        </div>
      )}
      {outcome.kind === 'failed' && (
        <>
          <ErrorMessage error={outcome.error} />
          {!me.value?.emailVerified && <p>The link may have expired (after two days) or been cut short on its way. Your account is still there: ask for a new link.</p>}
          {me.value?.emailVerified
            ? <p>Your own address is verified already: there is nothing left to do. <a href='/profile'>Go to your profile</a></p>
            : sessionToken.value
              ? <SendLinkAgainButton email={me.value?.email} />
              : <p><a href={`/login?next=${encodeURIComponent('/profile')}`}>Log in</a> to have a new link sent; your profile page has the button.</p>}
        </>
      )}
    </>
  )
}
