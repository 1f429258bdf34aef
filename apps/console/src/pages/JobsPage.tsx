import { useState } from 'preact/hooks'
import { SignedIn } from '../components/SignedIn'
import { JobForm } from '../components/JobForm'
import { JobCard } from '../components/JobCard'

/** `/jobs`: submit jobs and watch each one's status change live. */
export function JobsPage() {
  const [jobs, setJobs] = useState<Array<{ id: string; type: string }>>([])
  return (
    <SignedIn>
      {(user) => (
        <>
          <h1>Jobs</h1>
          <JobForm user={user} onSubmitted={(job) => setJobs((list) => [{ id: job.id, type: job.type }, ...list])} />
          <section aria-labelledby='jobs-heading'>
            <h2 id='jobs-heading'>Submitted here</h2>
            {jobs.length === 0 ? <p class='empty'>No job yet.</p> : jobs.map((job) => <JobCard key={job.id} {...job} />)}
          </section>
        </>
      )}
    </SignedIn>
  )
}
