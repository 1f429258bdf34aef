import { useState } from 'preact/hooks'
import { ApiError, api } from '../api/client'
import type { VerificationQueued } from '../api/types'
import { ErrorMessage, Notice } from './Form'

/** How long to wait, as a person would say it: "in a minute", "in 12 minutes", "in 23 hours". */
function waitInWords(seconds: number): string {
  if (seconds <= 60) return 'in a minute'
  const minutes = Math.ceil(seconds / 60)
  if (minutes < 120) return `in ${minutes} minutes`
  return `in ${Math.ceil(minutes / 60)} hours`
}

type Outcome =
  | { kind: 'sent' }
  | { kind: 'verified' }
  | { kind: 'limited'; retryAfterSeconds: number | undefined; reason: string }

/**
 * **Send the link again** (`POST /v1/users/me/verification`) for the signed-in
 * person, and what came of it: sent, already verified, or when to try again.
 * `onVerified` lets the page show the address as verified after a 409.
 */
export function SendLinkAgainButton({ email, onVerified }: { email?: string; onVerified?: () => void }) {
  const [busy, setBusy] = useState(false)
  const [outcome, setOutcome] = useState<Outcome | null>(null)
  const [error, setError] = useState<unknown>(null)

  async function sendAgain() {
    setBusy(true)
    setError(null)
    setOutcome(null)
    try {
      await api.post<VerificationQueued>('/v1/users/me/verification')
      setOutcome({ kind: 'sent' })
    } catch (err) {
      if (err instanceof ApiError && err.code === 'EMAIL_ALREADY_VERIFIED') {
        setOutcome({ kind: 'verified' })
        onVerified?.()
      } else if (err instanceof ApiError && err.code === 'VERIFICATION_MAIL_LIMITED') {
        // The message ends "; retry in N seconds": the wait is said in words below, from Retry-After.
        setOutcome({ kind: 'limited', retryAfterSeconds: err.retryAfterSeconds, reason: err.message.replace(/; retry in \d+ seconds$/, '') })
      } else {
        setError(err)
      }
    } finally {
      setBusy(false)
    }
  }

  const to = email ? <strong>{email}</strong> : 'your e-mail address'
  return (
    <section class='send-link-again' aria-label='Verification link'>
      {outcome?.kind === 'sent' && <Notice>A new verification link is on its way to {to}. It stays valid for two days.</Notice>}
      {outcome?.kind === 'verified' && <Notice>Your e-mail address is already verified; there is no need for a link.</Notice>}
      {outcome?.kind === 'limited' && (
        <Notice>
          <p>
            <strong>No link sent.</strong> Try again {outcome.retryAfterSeconds === undefined ? 'later' : waitInWords(outcome.retryAfterSeconds)}.
          </p>
          <p class='hint'>The server said: {outcome.reason}.</p>
        </Notice>
      )}
      <ErrorMessage error={error} />
      {outcome?.kind !== 'verified' && (
        <button type='button' class='secondary' disabled={busy} onClick={sendAgain}>
          {busy ? 'Sending…' : 'Send the link again'}
        </button>
      )}
    </section>
  )
}
