import { useState } from 'preact/hooks'
import { api } from '../api/client'
import { FINAL_JOB_STATUSES, type JobDoc, type JobStatus } from '../api/types'
import { ms } from '../events/describe'
import { ErrorMessage } from './Form'
import { Time } from './Time'

/** One `job.status` event of the job, as a step of its story. */
export interface StatusStep {
  id: string
  status: JobStatus
  attempts: number
  at: string
  replica: string
  durationMs?: number
  error?: string
}

/** How far back the server keeps events: a job changed longer ago has no steps to show. */
const EVENT_WINDOW_MS = 10 * 60_000

/** A result shown on the card: JSON, cut short (the whole of it is `GET /v1/jobs/{id}`). */
function shortJson(value: unknown): string {
  const text = JSON.stringify(value)
  return text.length > 200 ? `${text.slice(0, 200)}…` : text
}

/**
 * One job: its status, the steps seen on the event stream (in the order they
 * happened), its result or error, and a Cancel button while it can be cancelled.
 */
export function JobCard({ job, steps, onChange }: { job: JobDoc; steps: StatusStep[]; onChange: (doc: JobDoc) => void }) {
  const [error, setError] = useState<unknown>(null)
  const [cancelling, setCancelling] = useState(false)
  // The API's answer when it is final; else the last step reported, which may be newer than the answer.
  const last = FINAL_JOB_STATUSES.includes(job.status) ? undefined : steps.at(-1)
  const status = last?.status ?? job.status
  const attempts = last?.attempts ?? job.attempts
  const failure = last ? last.error : job.error
  const final = FINAL_JOB_STATUSES.includes(status)

  async function cancel() {
    setCancelling(true)
    setError(null)
    try {
      onChange(await api.delete<JobDoc>(`/v1/jobs/${job.id}`))
    } catch (err) {
      setError(err)
    } finally {
      setCancelling(false)
    }
  }

  return (
    <article class='job' aria-label={`Job ${job.id}`}>
      <header>
        <h3>{job.type} job <code>{job.id.slice(0, 8)}</code></h3>
        <p>
          Status: <strong class={`status status-${status}`} data-testid='job-status'>{status}</strong>
          {' '}<span class='hint'>submitted <Time at={job.createdAt} />{attempts > 1 ? `, ${attempts} attempts` : ''}</span>
        </p>
      </header>
      {steps.length > 0
        ? (
          <ol class='steps' aria-label='Steps'>
            {steps.map((step) => (
              <li key={step.id}>
                <Time at={step.at} />{' '}
                {step.status} — {step.replica}{step.durationMs !== undefined ? ` — ${ms(step.durationMs)}` : ''}{step.error ? ` — ${step.error}` : ''}
              </li>
            ))}
          </ol>
          )
        : Date.now() - Date.parse(job.updatedAt) > EVENT_WINDOW_MS &&
          <p class='hint'>Its steps are older than the 10 minutes the server keeps; last change <Time at={job.updatedAt} />.</p>}
      {job.status === 'DONE' && job.result !== undefined && <p>Result: <code>{shortJson(job.result)}</code></p>}
      {failure && <p class='hint'>{status === 'FAILED' ? 'Failed' : 'Last attempt failed'}: {failure}</p>}
      <ErrorMessage error={error} />
      {!final && <button type='button' onClick={cancel} disabled={cancelling}>{cancelling ? 'Cancelling…' : 'Cancel job'}</button>}
    </article>
  )
}
