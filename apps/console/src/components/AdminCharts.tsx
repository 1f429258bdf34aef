import { useMemo } from 'preact/hooks'
import type { AdminHistoryHandle } from '../charts/use-admin-history'
import { TimeChart } from './TimeChart'

/**
 * The last ten minutes at a glance: queue depth per queue, messages per
 * second per replica, and mail latency. Kept in this page only: a reload
 * starts them empty (the page fills them again, a point a second).
 */
export function AdminCharts({ charts }: { charts: AdminHistoryHandle }) {
  const { history, version } = charts
  const depth = useMemo(() => history.depth.data(), [version])
  const rates = useMemo(() => history.rates.data(), [version])
  const latency = useMemo(() => history.latency.data(), [version])
  return (
    <div class='charts'>
      <TimeChart title='Queue depth (ready + unacked)' unit='msgs' data={depth} />
      <TimeChart title='Messages per second, per replica' unit='/s' data={rates} />
      <TimeChart title='Mail latency: SMTP send time, p50 and p99 over 10 s' unit='ms' data={latency} />
    </div>
  )
}
