import { useEffect, useState } from 'preact/hooks'
import { api } from '../api/client'
import type { Me, QueueStats, ReplicaSeen, UnackedSource } from '../api/types'
import { isEvent, type AnyEvent } from '../events/types'
import { useEventStream } from '../streams/use-event-stream'
import { SignedIn } from '../components/SignedIn'
import { ErrorMessage } from '../components/Form'
import { withEvent } from '../components/EventList'
import { LiveFeed } from '../components/LiveFeed'
import { StreamStatus } from '../components/StreamStatus'
import { QueuesTable } from '../components/QueuesTable'
import { ReplicasList } from '../components/ReplicasList'
import { DeadLetterPanel } from '../components/DeadLetterPanel'
import { AdminCharts } from '../components/AdminCharts'
import { useAdminHistory } from '../charts/use-admin-history'

/** While the admin stream is down, the queues table is read this often instead. */
const FALLBACK_POLL_MS = 2000
/** Events the live feed keeps (and counts while paused). */
const FEED_MAX = 500

/** Queues, replicas, the feed of every event and the dead letters: all from one admin stream. */
function AdminConsole() {
  const [queues, setQueues] = useState<QueueStats[]>([])
  const [replicas, setReplicas] = useState<ReplicaSeen[]>([])
  const [unackedSource, setUnackedSource] = useState<UnackedSource | null>(null)
  const charts = useAdminHistory()
  const [updatedAt, setUpdatedAt] = useState<string | null>(null)
  const [feed, setFeed] = useState<AnyEvent[]>([])
  const [error, setError] = useState<unknown>(null)

  const readQueues = () => api.get<{ queues: QueueStats[]; unackedSource: UnackedSource }>('/v1/admin/queues').then((body) => {
    setQueues(body.queues)
    setUnackedSource(body.unackedSource)
    setUpdatedAt(new Date().toISOString())
    setError(null)
  }, setError)
  useEffect(() => { void readQueues() }, [])

  const state = useEventStream('/v1/admin/events', (event) => {
    charts.observe(event)
    if (isEvent(event, 'queue.stats')) {
      setQueues(event.data.queues)
      setUnackedSource(event.data.unackedSource)
      setReplicas(event.data.replicas)
      setUpdatedAt(event.at)
    } else {
      setFeed((list) => withEvent(list, event, FEED_MAX))
    }
  })
  const streamDown = state.kind === 'failed' || state.kind === 'retrying'
  useEffect(() => {
    if (!streamDown) return undefined
    const timer = setInterval(() => { void readQueues() }, FALLBACK_POLL_MS)
    return () => clearInterval(timer)
  }, [streamDown])

  // Wide screens: the feed is a column of its own beside the rest, scrolling by itself; narrow
  // ones: it comes first, a few lines high, so it is read without scrolling past every table.
  // (styles.css: .admin-layout)
  return (
    <div class='admin-layout'>
      <p><StreamStatus state={state} /></p>
      <ErrorMessage error={error} />
      <section class='admin-feed' aria-labelledby='feed-heading'>
        <h2 id='feed-heading'>Every event, live</h2>
        <LiveFeed events={feed} max={FEED_MAX} />
      </section>
      <section aria-labelledby='queues-heading'>
        <h2 id='queues-heading'>Queues</h2>
        <QueuesTable queues={queues} updatedAt={updatedAt} unackedSource={unackedSource} />
      </section>
      <section aria-labelledby='replicas-heading'>
        <h2 id='replicas-heading'>Replicas</h2>
        <ReplicasList replicas={replicas} />
      </section>
      <section aria-labelledby='charts-heading'>
        <h2 id='charts-heading'>Last 10 minutes</h2>
        <AdminCharts charts={charts} />
      </section>
      <section aria-labelledby='dlq-heading'>
        <h2 id='dlq-heading'>Dead letters</h2>
        {queues.map((q) => <DeadLetterPanel key={q.name} queue={q.name} depth={q.dlq} statsAt={updatedAt} />)}
      </section>
    </div>
  )
}

/** `/admin`: for admins only (the API refuses the rest anyway). */
export function AdminPage() {
  return (
    <SignedIn>
      {(user: Me) => (
        <>
          <h1>Admin</h1>
          {user.role === 'admin'
            ? <AdminConsole />
            : <p role='alert'>This page is for admins. An operator can make you one with <code>npm run admin -- promote {user.email}</code>.</p>}
        </>
      )}
    </SignedIn>
  )
}
