import { useState } from 'preact/hooks'
import { api } from '../api/client'
import { FINAL_JOB_STATUSES, type JobStatus } from '../api/types'
import { isEvent, type AnyEvent } from '../events/types'
import { ms } from '../events/describe'
import { useEventStream } from '../streams/use-event-stream'
import { ErrorMessage } from './Form'
import { StreamStatus } from './StreamStatus'

interface StatusStep {
  id: string
  status: JobStatus
  attempts: number
  at: string
  replica: string
  durationMs?: number
  error?: string
}

/** One submitted job: its status live (`GET /v1/jobs/{id}/events`) and a Cancel button while it can be cancelled. */
export function JobCard({ id, type }: { id: string; type: string }) {
  const [steps, setSteps] = useState<StatusStep[]>([])
  const [error, setError] = useState<unknown>(null)
  const [cancelling, setCancelling] = useState(false)
  const state = useEventStream(`/v1/jobs/${id}/events`, (event: AnyEvent) => {
    if (!isEvent(event, 'job.status')) return
    const { status, durationMs, error: jobError } = event.data
    setSteps((list) => {
      const last = list.at(-1)
      // The stream opens with the job's status at that moment, which the next live event may repeat.
      if (list.some((s) => s.id === event.id) || (last?.status === status && last.attempts === event.data.attempts)) return list
      return [...list, { id: event.id, status, attempts: event.data.attempts, at: event.at, replica: event.replica, durationMs, error: jobError }]
    })
  }, { isLast: (event) => isEvent(event, 'job.status') && FINAL_JOB_STATUSES.includes(event.data.status) })
  const status = steps.at(-1)?.status
  const final = status !== undefined && FINAL_JOB_STATUSES.includes(status)

  async function cancel() {
    setCancelling(true)
    setError(null)
    try {
      await api.delete(`/v1/jobs/${id}`)
    } catch (err) {
      setError(err)
    } finally {
      setCancelling(false)
    }
  }

  return (
    <article class='job' aria-label={`Job ${id}`}>
      <header>
        <h3>{type} job <code>{id.slice(0, 8)}</code></h3>
        <p>Status: <strong class={`status status-${status ?? 'unknown'}`} data-testid='job-status'>{status ?? '…'}</strong> <StreamStatus state={state} /></p>
      </header>
      <ol class='steps'>
        {steps.map((step) => (
          <li key={step.id}>
            <time dateTime={step.at}>{new Date(step.at).toLocaleTimeString(undefined, { hour12: false })}</time>{' '}
            {step.status} — {step.replica}{step.durationMs !== undefined ? ` — ${ms(step.durationMs)}` : ''}{step.error ? ` — ${step.error}` : ''}
          </li>
        ))}
      </ol>
      <ErrorMessage error={error} />
      {!final && <button type='button' onClick={cancel} disabled={cancelling}>{cancelling ? 'Cancelling…' : 'Cancel job'}</button>}
    </article>
  )
}
