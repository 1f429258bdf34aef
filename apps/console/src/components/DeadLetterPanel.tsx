import { useEffect, useState } from 'preact/hooks'
import { api } from '../api/client'
import type { DeadLetter, DeadLetterList, DeadLetterOutcome } from '../api/types'
import { ErrorMessage, Notice } from './Form'

const when = (iso?: string) => (iso ? new Date(iso).toLocaleString(undefined, { hour12: false }) : '—')

/** The number a replay or purge answered, whatever the field is called. */
function moved(outcome: DeadLetterOutcome | undefined): string {
  const n = outcome && (outcome.replayed ?? outcome.purged ?? Object.values(outcome).find((v) => typeof v === 'number'))
  return typeof n === 'number' ? String(n) : 'the'
}

/**
 * The dead letters of one work queue (`GET /v1/admin/dlq/{queue}`), with
 * Replay (all or one message) and Purge (asks once more before it deletes).
 * Reloads whenever the queue's dead-letter count changes.
 */
export function DeadLetterPanel({ queue, depth }: { queue: string; depth: number | null }) {
  const [messages, setMessages] = useState<DeadLetter[] | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const [confirmPurge, setConfirmPurge] = useState(false)
  const [busy, setBusy] = useState(false)
  const base = `/v1/admin/dlq/${encodeURIComponent(queue)}`

  const load = () => api.get<DeadLetterList>(base).then((list) => { setMessages(list.messages); setError(null) }, setError)
  useEffect(() => { void load() }, [queue, depth])

  async function act(label: string, run: () => Promise<DeadLetterOutcome | undefined>) {
    setBusy(true)
    setError(null)
    setNotice(null)
    try {
      const outcome = await run()
      setNotice(`${label}: ${moved(outcome)} message(s).`)
      await load()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
      setConfirmPurge(false)
    }
  }
  const replay = (messageIds?: string[]) => act('Replayed', () => api.post<DeadLetterOutcome>(`${base}/replay`, messageIds ? { messageIds } : { all: true }))
  const purge = () => act('Purged', () => api.delete<DeadLetterOutcome>(base))

  const count = messages?.length ?? 0
  return (
    <section class='dlq' aria-labelledby={`dlq-${queue}`}>
      <h3 id={`dlq-${queue}`}>Dead letters of {queue} ({depth ?? count})</h3>
      <ErrorMessage error={error} />
      {notice && <Notice>{notice}</Notice>}
      {messages && messages.length === 0 && <p class='empty'>None.</p>}
      {messages && messages.length > 0 && (
        <table aria-label={`Dead letters of ${queue}`}>
          <thead>
            <tr><th scope='col'>Message</th><th scope='col'>Reason</th><th scope='col'>Attempts</th><th scope='col'>First failure</th><th scope='col'>Last failure</th><th scope='col'><span class='visually-hidden'>Action</span></th></tr>
          </thead>
          <tbody>
            {messages.map((m) => (
              <tr key={m.messageId}>
                <td><code>{m.messageId}</code>{m.type && <small> {m.type}</small>}</td>
                <td>{m.reason ?? '—'}</td>
                <td>{m.attempts ?? '—'}</td>
                <td>{when(m.firstFailedAt)}</td>
                <td>{when(m.lastFailedAt)}</td>
                <td><button type='button' disabled={busy} onClick={() => replay([m.messageId])} aria-label={`Replay ${m.messageId}`}>Replay</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {count > 0 && (
        <p class='actions'>
          <button type='button' disabled={busy} onClick={() => replay()}>Replay all</button>
          {confirmPurge
            ? <>
                <button type='button' class='danger' disabled={busy} onClick={purge}>Yes, delete {count} message(s) for good</button>
                <button type='button' class='secondary' onClick={() => setConfirmPurge(false)}>Keep them</button>
              </>
            : <button type='button' class='danger' disabled={busy} onClick={() => setConfirmPurge(true)}>Purge</button>}
        </p>
      )}
    </section>
  )
}
