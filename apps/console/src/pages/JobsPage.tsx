import { useEffect, useRef, useState } from 'preact/hooks'
import { api } from '../api/client'
import { FINAL_JOB_STATUSES, type JobAccepted, type JobDoc, type JobList, type Me } from '../api/types'
import { isEvent, type AnyEvent } from '../events/types'
import { useEventStream } from '../streams/use-event-stream'
import { SignedIn } from '../components/SignedIn'
import { ErrorMessage } from '../components/Form'
import { JobForm } from '../components/JobForm'
import { JobCard, type StatusStep } from '../components/JobCard'
import { StreamStatus } from '../components/StreamStatus'

/** Jobs read per "Show older jobs". */
const PAGE = 20

const newestFirst = (a: JobDoc, b: JobDoc) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id)

/** Adds or replaces jobs by id, newest first. */
function merged(list: JobDoc[], more: JobDoc[]): JobDoc[] {
  const byId = new Map(list.map((job) => [job.id, job]))
  for (const job of more) byId.set(job.id, job)
  return [...byId.values()].sort(newestFirst)
}

/**
 * Your jobs (`GET /v1/jobs`, a page at a time) and each one's steps, live.
 * A job's status shown is its last step, unless what the API answered is
 * final (nothing follows that); no clocks are compared.
 * One stream of your own events (`GET /v1/events`, from what the server
 * keeps of the last 10 minutes) feeds every card, in the order the steps
 * happened, so a reload shows the same jobs and steps again, and the
 * number of jobs shown never runs into the per-user stream limit.
 */
function Jobs({ user }: { user: Me }) {
  const [jobs, setJobs] = useState<JobDoc[]>([])
  const [steps, setSteps] = useState<Record<string, StatusStep[]>>({})
  const [nextCursor, setNextCursor] = useState<string | null>(null)
  const [loading, setLoading] = useState(true)
  const [error, setError] = useState<unknown>(null)
  // Which unknown job an event may add: any once the whole list is here, else only one newer than its newest.
  const listed = useRef<{ complete: boolean; newest: string } | null>(null)
  // The jobs as last drawn, for the stream's handler.
  const current = useRef(jobs)
  current.current = jobs

  async function load(cursor: string | null) {
    setLoading(true)
    try {
      const page = await api.get<JobList>(`/v1/jobs?limit=${PAGE}${cursor ? `&cursor=${cursor}` : ''}`)
      setJobs((list) => merged(list, page.jobs))
      setNextCursor(page.nextCursor)
      if (cursor === null) listed.current = { complete: page.nextCursor === null, newest: page.jobs[0]?.createdAt ?? '' }
      else if (page.nextCursor === null && listed.current) listed.current.complete = true
      setError(null)
    } catch (err) {
      setError(err)
    } finally {
      setLoading(false)
    }
  }
  useEffect(() => { void load(null) }, [])
  const replaced = (doc: JobDoc) => setJobs((list) => merged(list, [doc]))
  // Shown at once as QUEUED; its stream events (the first is that same QUEUED) follow.
  const submitted = (job: JobAccepted & { type: JobDoc['type'] }) => {
    const now = new Date().toISOString()
    setJobs((list) => list.some((j) => j.id === job.id) ? list : merged(list, [{ ...job, attempts: 0, createdAt: now, updatedAt: now }]))
  }

  const state = useEventStream('/v1/events', (event: AnyEvent) => {
    if (!isEvent(event, 'job.status')) return
    const { jobId, jobType, status, attempts, durationMs, error: jobError } = event.data
    const step: StatusStep = { id: event.id, status, attempts, at: event.at, replica: event.replica, durationMs, error: jobError }
    setSteps((all) => {
      const list = all[jobId] ?? []
      return list.some((s) => s.id === event.id) ? all : { ...all, [jobId]: [...list, step] }
    })
    // The event says how a job shown unfinished ended; its result is in its status.
    const shown = current.current.find((job) => job.id === jobId)
    if (shown && !FINAL_JOB_STATUSES.includes(shown.status) && FINAL_JOB_STATUSES.includes(status)) {
      void api.get<JobDoc>(`/v1/jobs/${jobId}`).then(replaced, () => {})
    }
    setJobs((list) => {
      if (list.some((job) => job.id === jobId)) return list
      const seen = listed.current
      // Submitted elsewhere (another tab, curl) since the list was read: shown like one submitted here.
      if (!seen || (!seen.complete && event.at <= seen.newest)) return list
      return merged(list, [{ id: jobId, type: jobType as JobDoc['type'], status, attempts, createdAt: event.at, updatedAt: event.at, error: jobError }])
    })
  }, { since: '0-0' })

  return (
    <>
      <JobForm user={user} onSubmitted={submitted} />
      <section aria-labelledby='jobs-heading'>
        <h2 id='jobs-heading'>Your jobs <StreamStatus state={state} /></h2>
        <ErrorMessage error={error} />
        {jobs.length === 0
          ? <p class='empty'>{loading ? 'Loading your jobs…' : 'No job yet. Jobs are kept for a day after their last change.'}</p>
          : jobs.map((job) => <JobCard key={job.id} job={job} steps={steps[job.id] ?? []} onChange={replaced} />)}
        {nextCursor !== null && (
          <button type='button' class='secondary' disabled={loading} onClick={() => void load(nextCursor)}>
            {loading ? 'Loading…' : 'Show older jobs'}
          </button>
        )}
      </section>
    </>
  )
}

/** `/jobs`: submit jobs, and see yours with each one's status changing live. */
export function JobsPage() {
  return (
    <SignedIn>
      {(user) => (
        <>
          <h1>Jobs</h1>
          <Jobs user={user} />
        </>
      )}
    </SignedIn>
  )
}
