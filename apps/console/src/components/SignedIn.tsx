import type { ComponentChildren } from 'preact'
import { useEffect } from 'preact/hooks'
import { useLocation } from 'preact-iso/router'
import type { Me } from '../api/types'
import { accountError, loadMe, me } from '../session/session'
import { ErrorMessage } from './Form'
import { sessionToken } from '../session/token'

/**
 * Shows its content to a signed-in person only; anyone else is sent to the
 * log-in page, which brings them back here afterwards.
 */
export function SignedIn({ children }: { children: (user: Me) => ComponentChildren }) {
  const { route, url } = useLocation()
  const token = sessionToken.value
  useEffect(() => {
    if (!token) route(`/login?next=${encodeURIComponent(url)}`, true)
  }, [token])
  if (!token) return null
  if (!me.value && accountError.value) {
    return (
      <>
        <ErrorMessage error={accountError.value} />
        <button type='button' onClick={() => { void loadMe().catch(() => undefined) }}>Try again</button>
      </>
    )
  }
  if (!me.value) return <p aria-busy='true'>Loading your account…</p>
  return <>{children(me.value)}</>
}
