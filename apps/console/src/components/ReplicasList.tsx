import type { ReplicaSeen } from '../api/types'
import { Time } from './Time'

/**
 * The processes whose heartbeat arrived in the last minute: an idle one stays
 * listed, one that missed three heartbeats is greyed as stale, and one that
 * stopped cleanly (or was silent for a minute) is gone.
 */
export function ReplicasList({ replicas }: { replicas: ReplicaSeen[] }) {
  if (replicas.length === 0) return <p class='empty'>No replica has sent a heartbeat in the last minute.</p>
  const sorted = [...replicas].sort((a, b) => a.service.localeCompare(b.service) || a.replica.localeCompare(b.replica))
  return (
    <>
      <table class='replicas'>
        <caption>Replicas seen in the last minute</caption>
        <thead><tr><th scope='col'>Service</th><th scope='col'>Replica</th><th scope='col'>Last heartbeat</th><th scope='col'>State</th></tr></thead>
        <tbody>
          {sorted.map((r) => (
            <tr key={`${r.service}/${r.replica}`} data-replica={r.replica} class={r.stale ? 'stale' : undefined}>
              <td>{r.service}</td>
              <td>{r.replica}</td>
              <td><Time at={r.lastSeenAt} /></td>
              <td data-column='state'>{r.stale ? <span class='badge'>stale</span> : <span class='badge ok'>live</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class='hint'>Listed by their heartbeats: <em>stale</em> after three missed (stopped answering), gone after a minute, or at once when stopped cleanly.</p>
    </>
  )
}
