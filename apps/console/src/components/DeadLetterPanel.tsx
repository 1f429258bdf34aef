import { useEffect, useState } from 'preact/hooks'
import { api } from '../api/client'
import type { DeadLetter, DeadLetterList, PurgeResult, ReplayResult } from '../api/types'
import { plural } from '../events/describe'
import { ErrorMessage, Notice } from './Form'
import { formatTime } from '../format-time'

const when = (iso: string | null) => (iso ? formatTime(iso) : '—')

function DeadLetterRow({ message, busy, onReplay }: { message: DeadLetter; busy: boolean; onReplay: (id: string) => void }) {
  const id = message.messageId
  return (
    <tr>
      <td><code>{id ?? '(no id)'}</code>{message.type && <small> {message.type}</small>}</td>
      <td>{message.reason}{message.code && <small> ({message.code})</small>}{message.redriven && <small> — replayed before by {message.redriven.by}</small>}</td>
      <td>{message.attempts}</td>
      <td>{when(message.firstFailedAt)}</td>
      <td>{when(message.lastFailedAt)}</td>
      <td>{id && <button type='button' class='secondary' disabled={busy} onClick={() => onReplay(id)} aria-label={`Replay ${id}`}>Replay</button>}</td>
    </tr>
  )
}

/**
 * The dead letters of one work queue (`GET /v1/admin/dlq/{queue}`), with
 * Replay (all, or one message) and Purge (asked once more before it deletes).
 * Reloads whenever the queue's dead-letter count changes.
 */
export function DeadLetterPanel({ queue, depth }: { queue: string; depth: number | null }) {
  const [list, setList] = useState<DeadLetterList | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const [confirmPurge, setConfirmPurge] = useState(false)
  const [busy, setBusy] = useState(false)
  const base = `/v1/admin/dlq/${encodeURIComponent(queue)}`

  const load = () => api.get<DeadLetterList>(base).then((body) => { setList(body); setError(null) }, setError)
  useEffect(() => { void load() }, [queue, depth])

  async function act(run: () => Promise<string>) {
    setBusy(true)
    setError(null)
    setNotice(null)
    try {
      setNotice(await run())
      await load()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
      setConfirmPurge(false)
    }
  }
  const replay = (messageIds?: string[]) => act(async () => {
    const result = await api.post<ReplayResult>(`${base}/replay`, messageIds ? { messageIds } : { all: true })
    return `Replayed ${plural(result.replayed, 'message')} to ${queue}${result.remaining > 0 ? `; ${result.remaining} still dead-lettered` : ''}.`
  })
  const purge = () => act(async () => `Purged ${plural((await api.delete<PurgeResult>(base)).purged, 'message')}.`)

  const total = list?.total ?? 0
  return (
    <section class='dlq' aria-labelledby={`dlq-${queue}`}>
      <h3 id={`dlq-${queue}`}>Dead letters of {queue} ({list?.total ?? depth ?? '…'})</h3>
      <ErrorMessage error={error} />
      {notice && <Notice>{notice}</Notice>}
      {list && list.messages.length === 0 && <p class='empty'>None.</p>}
      {list && list.messages.length > 0 && (
        <table aria-label={`Dead letters of ${queue}`}>
          <thead>
            <tr><th scope='col'>Message</th><th scope='col'>Reason</th><th scope='col'>Attempts</th><th scope='col'>First failure</th><th scope='col'>Last failure</th><th scope='col'><span class='visually-hidden'>Action</span></th></tr>
          </thead>
          <tbody>
            {list.messages.map((m, i) => <DeadLetterRow key={m.messageId ?? `row-${i}`} message={m} busy={busy} onReplay={(id) => replay([id])} />)}
          </tbody>
        </table>
      )}
      {total > 0 && (
        <p class='actions'>
          <button type='button' disabled={busy} onClick={() => replay()}>Replay all</button>
          {confirmPurge
            ? <>
              <button type='button' class='danger' disabled={busy} onClick={purge}>Yes, delete {plural(total, 'message')} for good</button>
              <button type='button' class='secondary' onClick={() => setConfirmPurge(false)}>Keep them</button>
            </>
            : <button type='button' class='danger' disabled={busy} onClick={() => setConfirmPurge(true)}>Purge</button>}
        </p>
      )}
    </section>
  )
}
