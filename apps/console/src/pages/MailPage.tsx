import { useState } from 'preact/hooks'
import { useLocation } from 'preact-iso/router'
import type { Me } from '../api/types'
import { SignedIn } from '../components/SignedIn'
import { MailSearchForm } from '../components/MailSearchForm'
import { MailHistory } from '../components/MailHistory'
import { SuppressionListPanel } from '../components/SuppressionListPanel'

/** The search (kept in the address bar, `?q=`, so a history can be linked), its result, and the suppression list. */
function MailConsole() {
  const { query, route } = useLocation()
  const q = query.q ?? ''
  // Bumped on every change to the suppression list, from the search or from the list: both read again.
  const [version, setVersion] = useState(0)
  const changed = () => setVersion((v) => v + 1)
  const open = (next: string) => route(`/mail?q=${encodeURIComponent(next)}`)
  return (
    <>
      <MailSearchForm query={q} onSearch={open} />
      {q && <MailHistory query={q} version={version} onOpen={open} onChange={changed} />}
      <SuppressionListPanel version={version} onOpen={open} onChange={changed} />
    </>
  )
}

/** `/mail`: for admins, what became of the mail to an address or of one message, and who is suppressed. */
export function MailPage() {
  return (
    <SignedIn>
      {(user: Me) => (
        <>
          <h1>Mail</h1>
          {user.role === 'admin'
            ? <MailConsole />
            : <p role='alert'>This page is for admins. An operator can make you one with <code>npm run admin -- promote {user.email}</code>.</p>}
        </>
      )}
    </SignedIn>
  )
}
