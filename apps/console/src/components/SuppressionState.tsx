import { useState } from 'preact/hooks'
import { api } from '../api/client'
import type { Suppression, SuppressionReason } from '../api/types'
import { ErrorMessage, Notice } from './Form'
import { Time } from './Time'

/** Each reason in words. */
export const REASON_TEXT: Record<SuppressionReason, string> = {
  hard_bounce: 'hard bounce',
  soft_bounce_limit: 'too many soft bounces',
  complaint: 'spam complaint',
  manual: 'added by hand'
}

/** The address of a suppression route. */
export const suppressionPath = (address: string) => `/v1/admin/suppressions/${encodeURIComponent(address)}`

/**
 * Whether mail to an address goes out: "Suppressed — hard bounce" with what
 * the report said and a **Lift suppression** button, or "Not suppressed".
 */
export function SuppressionState({ address, suppression, onChange }: { address: string; suppression: Suppression | null; onChange: () => void }) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const [lifted, setLifted] = useState(false)

  async function lift() {
    setBusy(true)
    setError(null)
    try {
      await api.delete(suppressionPath(address))
      setLifted(true)
      onChange()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <section class={`suppression ${suppression ? 'suppressed' : 'clear'}`} aria-label={`Suppression of ${address}`}>
      <ErrorMessage error={error} />
      {lifted && !suppression && <Notice>Suppression lifted: mail to {address} goes out again.</Notice>}
      {suppression
        ? (
          <>
            <p class='state'>
              <strong>Suppressed</strong> — {REASON_TEXT[suppression.reason]} <small>(source {suppression.source}, {suppression.count}×)</small>
            </p>
            <p class='hint'>
              Mail to {address} has been held back since <Time at={suppression.firstSeenAt} />
              {suppression.lastSeenAt !== suppression.firstSeenAt && <>; last report <Time at={suppression.lastSeenAt} /></>}.
            </p>
            {suppression.detail && <p class='detail'><code>{suppression.detail}</code></p>}
            <button type='button' class='danger' disabled={busy} onClick={lift}>Lift suppression</button>
          </>
          )
        : <p class='state'><strong>Not suppressed</strong> — mail to {address} goes out.</p>}
    </section>
  )
}
