import { useEffect, useRef, useState } from 'preact/hooks'
import { api } from '../api/client'
import type { DeadLetter, DeadLetterDeleted, DeadLetterList, PurgeResult, ReplayResult } from '../api/types'
import { plural } from '../events/describe'
import { ErrorMessage, Notice } from './Form'
import { DeadLetterDetails } from './DeadLetterDetails'
import { formatTime } from '../format-time'

const when = (iso: string | null) => (iso ? formatTime(iso) : '—')
/** "user:<id> <email>" (the api) reads as the e-mail address; "cli:<os user>@<host>" as it is. */
const who = (by: string) => /<([^>]+)>$/.exec(by)?.[1] ?? by

/** What the last action did; a replay's line is re-read against the list as it changes. */
type Outcome = { replay: ReplayResult } | { text: string }

interface RowActions {
  busy: boolean
  open: boolean
  onToggle: () => void
  onReplay: () => void
  onDelete: () => void
}

function DeadLetterRow({ queue, message, actions }: { queue: string; message: DeadLetter; actions: RowActions }) {
  const [confirming, setConfirming] = useState(false)
  const id = message.messageId
  const { busy, open } = actions
  return (
    <>
      <tr data-message-id={id ?? undefined}>
        <td data-label='Message'><code>{id ?? '(no id)'}</code>{message.type && <small> {message.type}</small>}</td>
        <td data-label='Reason'>
          {message.reason}{message.code && <small> ({message.code})</small>}
          {message.redriven && <small class='redriven' title={message.redriven.by}> — replayed at {when(message.redriven.at)} by {who(message.redriven.by)}, failed again</small>}
        </td>
        <td data-label='Attempts'>{message.attempts}</td>
        <td data-label='Failed'>{when(message.firstFailedAt)}{message.lastFailedAt !== message.firstFailedAt && <><br />last {when(message.lastFailedAt)}</>}</td>
        <td>
          <div class='row-actions'>
            {id && (confirming
              ? <>
                <button type='button' class='danger' disabled={busy} onClick={() => { setConfirming(false); actions.onDelete() }} aria-label={`Yes, delete ${id} for good`}>Yes, delete</button>
                <button type='button' class='secondary' onClick={() => setConfirming(false)} aria-label={`Keep ${id}`}>Keep</button>
              </>
              : <>
                <button type='button' class='secondary' aria-expanded={open} onClick={() => actions.onToggle()} aria-label={`${open ? 'Hide' : 'Show'} ${id}`}>{open ? 'Hide' : 'Show'}</button>
                <button type='button' class='secondary' disabled={busy} onClick={() => actions.onReplay()} aria-label={`Replay ${id}`}>Replay</button>
                <button type='button' class='secondary danger-text' disabled={busy} onClick={() => setConfirming(true)} aria-label={`Delete ${id}`}>Delete</button>
              </>)}
          </div>
        </td>
      </tr>
      {open && id && <tr class='details'><td colSpan={5}><DeadLetterDetails queue={queue} messageId={id} /></td></tr>}
    </>
  )
}

/**
 * "Replayed 2 messages to mail; 1 still dead-lettered." and, once they are
 * listed again, how many of the replayed ones failed again at once: the
 * numbers add up to the list below it.
 */
function ReplayNotice({ queue, result, list }: { queue: string; result: ReplayResult; list: DeadLetterList | null }) {
  const replayed = new Set(result.messageIds)
  const back = list?.messages.filter((m) => m.messageId !== null && replayed.has(m.messageId) && m.redriven).length ?? 0
  return (
    <Notice>
      Replayed {plural(result.replayed, 'message')} to {queue}
      {result.remaining > 0 ? `; ${result.remaining} still dead-lettered` : ''}.
      {back > 0 && ` ${back === result.replayed && back === 1 ? 'It' : `${back} of them`} failed again at once and ${back === 1 ? 'is' : 'are'} listed again below.`}
    </Notice>
  )
}

/** The queue stats start a new read of the list at most this often. */
const STATS_RELOAD_MIN_MS = 5000

/**
 * The dead letters of one work queue (`GET /v1/admin/dlq/{queue}`): Show one
 * in full, Replay (one or all), Delete one and Purge (both asked once more).
 * Reloads after each action, and when the queue stats (`depth` at `statsAt`)
 * count another number of dead letters than the list.
 */
export function DeadLetterPanel({ queue, depth, statsAt }: { queue: string; depth: number | null; statsAt: string | null }) {
  const [list, setList] = useState<DeadLetterList | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [outcome, setOutcome] = useState<Outcome | null>(null)
  const [confirmPurge, setConfirmPurge] = useState(false)
  const [busy, setBusy] = useState(false)
  const [open, setOpen] = useState<string | null>(null)
  const base = `/v1/admin/dlq/${encodeURIComponent(queue)}`

  // Only the latest load may set the list: an older answer arriving late must not replace a newer one.
  const loads = useRef(0)
  const load = () => {
    const n = ++loads.current
    return api.get<DeadLetterList>(base).then((body) => { if (n === loads.current) { setList(body); setError(null) } }, setError)
  }
  useEffect(() => { void load() }, [queue])
  // Each second's queue stats: the list is read again only while its count differs from the
  // queue's. Not on every change of the count: a replayed message that fails again at once, or a
  // delete followed by a new dead letter, leaves the count where it was while the list is behind.
  // Not on a timer either: every read returns the messages with x-delivery-count one higher.
  // A read holds what it looks at (unacked, so out of the queue's count) until it ends: one read at a
  // time, a difference seen on two ticks in a row, and a pause between reads, or a slow read would make
  // the next tick's count differ and start another, for ever.
  const differedBefore = useRef(false)
  const reading = useRef(false)
  const lastRead = useRef(0)
  useEffect(() => {
    const differs = depth !== null && list !== null && depth !== list.total
    const twice = differs && differedBefore.current
    differedBefore.current = differs
    if (!twice || busy || reading.current || Date.now() - lastRead.current < STATS_RELOAD_MIN_MS) return
    reading.current = true
    lastRead.current = Date.now()
    void load().finally(() => { reading.current = false })
  }, [statsAt])

  async function act(run: () => Promise<Outcome>) {
    setBusy(true)
    setError(null)
    setOutcome(null)
    try {
      // The notice once the list is read again: the two appear together and agree.
      const done = await run()
      await load()
      setOutcome(done)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
      setConfirmPurge(false)
    }
  }
  const replay = (messageIds?: string[]) => act(async () => ({ replay: await api.post<ReplayResult>(`${base}/replay`, messageIds ? { messageIds } : { all: true }) }))
  const remove = (id: string) => act(async () => {
    const { deleted, remaining } = await api.delete<DeadLetterDeleted>(`${base}/messages/${encodeURIComponent(id)}`)
    if (open === id) setOpen(null)
    return { text: `Deleted ${deleted.messageId ?? id} (${deleted.reason}); ${plural(remaining, 'dead letter')} left.` }
  })
  const purge = () => act(async () => ({ text: `Purged ${plural((await api.delete<PurgeResult>(base)).purged, 'message')}.` }))

  const total = list?.total ?? 0
  return (
    <section class='dlq' aria-labelledby={`dlq-${queue}`}>
      <h3 id={`dlq-${queue}`}>Dead letters of {queue} ({list?.total ?? depth ?? '…'})</h3>
      <ErrorMessage error={error} />
      {outcome && ('replay' in outcome ? <ReplayNotice queue={queue} result={outcome.replay} list={list} /> : <Notice>{outcome.text}</Notice>)}
      {list && list.messages.length === 0 && <p class='empty'>None.</p>}
      {list && list.messages.length > 0 && (
        <table class='dead-letters' aria-label={`Dead letters of ${queue}`}>
          <thead>
            <tr><th scope='col'>Message</th><th scope='col'>Reason</th><th scope='col'>Attempts</th><th scope='col'>Failed</th><th scope='col'><span class='visually-hidden'>Actions</span></th></tr>
          </thead>
          <tbody>
            {list.messages.map((m, i) => (
              <DeadLetterRow
                key={m.messageId ?? `row-${i}`} queue={queue} message={m} actions={{
                  busy,
                  open: m.messageId !== null && open === m.messageId,
                  onToggle: () => setOpen(open === m.messageId ? null : m.messageId),
                  onReplay: () => replay([m.messageId!]),
                  onDelete: () => remove(m.messageId!)
                }}
              />
            ))}
          </tbody>
        </table>
      )}
      {list && total > list.messages.length && <p class='hint'>The first {list.messages.length} of {total} are listed.</p>}
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
