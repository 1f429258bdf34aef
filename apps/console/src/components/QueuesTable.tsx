import type { QueueStats } from '../api/types'
import { Time } from './Time'

const count = (n: number | null) => (n === null ? '—' : String(n))

/** Work queues: messages ready, being worked on, consumers, dead letters. */
export function QueuesTable({ queues, updatedAt }: { queues: QueueStats[]; updatedAt: string | null }) {
  return (
    <table class='numbers'>
      <caption>Work queues {updatedAt && <small>updated <Time at={updatedAt} /></small>}</caption>
      <thead>
        <tr><th scope='col'>Queue</th><th scope='col'>Ready</th><th scope='col'>Unacked</th><th scope='col'>Consumers</th><th scope='col'>Dead letters</th></tr>
      </thead>
      <tbody>
        {queues.map((q) => (
          <tr key={q.name} data-queue={q.name}>
            <th scope='row'>{q.name}</th>
            <td data-column='ready'>{count(q.ready)}</td>
            <td data-column='unacked'>{count(q.unacked)}</td>
            <td data-column='consumers'>{count(q.consumers)}</td>
            <td data-column='dlq'>{count(q.dlq)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
