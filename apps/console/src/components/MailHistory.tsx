import { useEffect, useState } from 'preact/hooks'
import { api } from '../api/client'
import type { MailAttempt, MessageMail, RecipientMail, Suppression } from '../api/types'
import { plural } from '../events/describe'
import { ErrorMessage } from './Form'
import { DeliveryAttemptsTable } from './DeliveryAttemptsTable'
import { SuppressionState } from './SuppressionState'

/** What the page shows for a search: a recipient's attempts (paged) or one message's. */
interface History {
  kind: 'recipient' | 'message'
  recipient: string
  messageId?: string
  suppression: Suppression | null
  attempts: MailAttempt[]
  nextCursor: string | null
}

const isAddress = (query: string) => query.includes('@')

async function read(query: string, cursor?: string): Promise<History> {
  if (isAddress(query)) {
    const params = new URLSearchParams({ to: query, ...(cursor ? { cursor } : {}) })
    const body = await api.get<RecipientMail>(`/v1/admin/mail?${params.toString()}`)
    return { kind: 'recipient', recipient: body.address, suppression: body.suppression, attempts: body.attempts, nextCursor: body.nextCursor }
  }
  const body = await api.get<MessageMail>(`/v1/admin/mail/${encodeURIComponent(query)}`)
  return { kind: 'message', recipient: body.recipient, messageId: body.messageId, suppression: body.suppression, attempts: body.attempts, nextCursor: null }
}

/**
 * The whole delivery history for a search: whether the address is suppressed
 * (with **Lift suppression**), then every attempt. A recipient's attempts
 * come newest first a page at a time; a message's oldest first, all of them.
 * Reads again when `version` changes (the suppression list changed).
 */
export function MailHistory({ query, version, onOpen, onChange }: { query: string; version: number; onOpen: (query: string) => void; onChange: () => void }) {
  const [history, setHistory] = useState<History | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [loading, setLoading] = useState(false)

  const load = async () => {
    setLoading(true)
    try {
      setHistory(await read(query))
      setError(null)
    } catch (err) {
      setHistory(null)
      setError(err)
    } finally {
      setLoading(false)
    }
  }
  useEffect(() => { void load() }, [query, version])

  async function more() {
    if (!history?.nextCursor) return
    try {
      const page = await read(query, history.nextCursor)
      setHistory({ ...history, attempts: [...history.attempts, ...page.attempts], nextCursor: page.nextCursor })
    } catch (err) {
      setError(err)
    }
  }

  if (loading && !history) return <p aria-busy='true'>Looking up {query}…</p>
  if (!history) return <ErrorMessage error={error} />
  const heading = history.kind === 'recipient'
    ? <>Mail to {history.recipient}</>
    : <>Message <code>{history.messageId}</code> to <button type='button' class='link' onClick={() => onOpen(history.recipient)}>{history.recipient}</button></>
  return (
    <section class='history' aria-labelledby='history-heading'>
      <h2 id='history-heading'>{heading}</h2>
      <ErrorMessage error={error} />
      <SuppressionState address={history.recipient} suppression={history.suppression} onChange={onChange} />
      <h3>{plural(history.attempts.length, 'delivery attempt')}{history.nextCursor ? ' (newest first, more below)' : history.kind === 'recipient' ? ', newest first' : ', oldest first'}</h3>
      <DeliveryAttemptsTable
        attempts={history.attempts}
        label={history.kind === 'recipient' ? `Delivery attempts to ${history.recipient}` : `Delivery attempts of ${history.messageId}`}
        onOpenMessage={history.kind === 'recipient' ? onOpen : undefined}
      />
      {history.nextCursor && <button type='button' class='secondary' onClick={more}>Older attempts</button>}
    </section>
  )
}
