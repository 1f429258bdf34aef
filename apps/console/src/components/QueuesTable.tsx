import type { QueueStats, UnackedSource } from '../api/types'
import { Time } from './Time'

const count = (n: number | null) => (n === null ? '—' : String(n))

/** Why a count under Unacked is missing: RabbitMQ keeps unacked counts only in its management API. */
function UnackedHint({ source }: { source: UnackedSource }) {
  if (source === 'not_configured') {
    return (
      <p class='hint' id='unacked-hint'>
        Why “—” under Unacked: RabbitMQ counts messages delivered and not yet acknowledged only in its management API. Set{' '}
        <code>RABBITMQ_MANAGEMENT_URL</code> on the api (<code>http://user:pass@host:15672</code>) to see them.
      </p>
    )
  }
  if (source === 'unreachable') {
    return <p class='hint' id='unacked-hint'>Why “—” under Unacked: the management API at <code>RABBITMQ_MANAGEMENT_URL</code> did not answer this time.</p>
  }
  return <p class='hint' id='unacked-hint'>Why “—” under Unacked: the management API has not counted that queue yet (it refreshes every few seconds).</p>
}

/** Work queues: messages ready, being worked on, consumers, dead letters. */
export function QueuesTable({ queues, updatedAt, unackedSource = null }: { queues: QueueStats[]; updatedAt: string | null; unackedSource?: UnackedSource | null }) {
  const explained = unackedSource !== null && queues.some((q) => q.unacked === null)
  return (
    <>
      <table class='numbers'>
        <caption>Work queues {updatedAt && <small>updated <Time at={updatedAt} /></small>}</caption>
        <thead>
          <tr>
            <th scope='col'>Queue</th><th scope='col'>Ready</th>
            <th scope='col' aria-describedby={explained ? 'unacked-hint' : undefined}>Unacked{explained && <sup aria-hidden='true'>?</sup>}</th>
            <th scope='col'>Consumers</th><th scope='col'>Dead letters</th>
          </tr>
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
      {explained && <UnackedHint source={unackedSource} />}
    </>
  )
}
