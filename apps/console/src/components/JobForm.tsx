import { useState } from 'preact/hooks'
import { api } from '../api/client'
import type { JobAccepted, JobRequest, Me } from '../api/types'
import { ErrorMessage, Field, formValues } from './Form'

type JobType = JobRequest['type']

const DESCRIPTIONS: Record<JobType, string> = {
  log: 'The worker writes your data to the job log (kept 30 days).',
  callback: 'The worker POSTs a signed result to your URL (public addresses only; to try one on this machine, ' +
    'e.g. http://127.0.0.1:9000/hook, start the api and the worker with CALLBACK_ALLOW_HOSTS=127.0.0.1).',
  email: 'The worker mails you (your own verified address).'
}

/** Parses the data field: empty means `{}`; anything but a JSON object is refused before sending. */
function jsonObject(text: string): Record<string, unknown> {
  if (!text.trim()) return {}
  const value: unknown = JSON.parse(text)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('Data must be a JSON object, e.g. {"hello": "world"}')
  return value as Record<string, unknown>
}

function jobRequest(type: JobType, values: Record<string, string>): JobRequest {
  if (type === 'log') return { type, data: jsonObject(values.data ?? '') }
  if (type === 'callback') return { type, callbackUrl: values.callbackUrl ?? '', data: jsonObject(values.data ?? '') }
  return { type, to: values.to ?? '', subject: values.subject ?? '', text: values.text ?? '' }
}

/** Submit a job (`POST /v1/jobs`): log, callback or email. */
export function JobForm({ user, onSubmitted }: { user: Me; onSubmitted: (job: JobAccepted & { type: JobType }) => void }) {
  const [type, setType] = useState<JobType>('log')
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)

  async function submit(event: SubmitEvent) {
    event.preventDefault()
    setError(null)
    let body: JobRequest
    try {
      body = jobRequest(type, formValues(event.currentTarget as HTMLFormElement))
    } catch (err) {
      setError(err)
      return
    }
    setBusy(true)
    try {
      const job = await api.post<JobAccepted>('/v1/jobs', body)
      onSubmitted({ ...job, type })
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <form onSubmit={submit} aria-label='Submit a job'>
      <fieldset>
        <legend>Job type</legend>
        {(['log', 'callback', 'email'] as const).map((t) => (
          <label key={t} class='choice'>
            <input type='radio' name='type' value={t} checked={type === t} onChange={() => { setType(t); setError(null) }} /> {t}
          </label>
        ))}
        <p class='hint'>{DESCRIPTIONS[type]}</p>
      </fieldset>
      {type === 'callback' && <Field label='Callback URL' name='callbackUrl' type='url' required placeholder='https://example.com/hook' />}
      {(type === 'log' || type === 'callback') && (
        <p class='field'>
          <label for='job-data'>Data (JSON object)</label>
          <textarea id='job-data' name='data' rows={3}>{'{"hello": "world"}'}</textarea>
        </p>
      )}
      {type === 'email' && (
        <>
          <Field label='To' name='to' type='email' required defaultValue={user.email} hint={user.emailVerified ? undefined : 'Verify your address first: mail jobs go to verified addresses only.'} />
          <Field label='Subject' name='subject' required maxLength={200} defaultValue='Hello from a job' />
          <p class='field'>
            <label for='job-text'>Text</label>
            <textarea id='job-text' name='text' rows={3} required>Sent by the worker.</textarea>
          </p>
        </>
      )}
      <ErrorMessage error={error} />
      <button type='submit' disabled={busy}>{busy ? 'Submitting…' : 'Submit job'}</button>
    </form>
  )
}
