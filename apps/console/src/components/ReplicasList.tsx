import type { ReplicaSeen } from '../api/types'
import { Time } from './Time'

/** The processes that reported in the last minute. */
export function ReplicasList({ replicas }: { replicas: ReplicaSeen[] }) {
  if (replicas.length === 0) return <p class='empty'>No replica has reported in the last minute.</p>
  const sorted = [...replicas].sort((a, b) => a.service.localeCompare(b.service) || a.replica.localeCompare(b.replica))
  return (
    <table>
      <caption>Replicas seen in the last minute</caption>
      <thead><tr><th scope='col'>Service</th><th scope='col'>Replica</th><th scope='col'>Last seen</th></tr></thead>
      <tbody>
        {sorted.map((r) => (
          <tr key={`${r.service}/${r.replica}`}>
            <td>{r.service}</td>
            <td>{r.replica}</td>
            <td><Time at={r.lastSeenAt} /></td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
