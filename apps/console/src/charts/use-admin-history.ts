import { useRef, useState } from 'preact/hooks'
import { isEvent, type AnyEvent } from '../events/types'
import { AdminHistory } from './history'

/** The admin page's chart history, and what feeds it. */
export interface AdminHistoryHandle {
  history: AdminHistory
  /** Goes up with every sample: what the charts re-render on. */
  version: number
  /** Hands an admin-stream event to the history (`queue.stats` samples, `mail.sent` counts). */
  observe(event: AnyEvent): void
}

/**
 * Keeps the last ten minutes in the browser for as long as the page is open.
 * Times are the browser's own (arrival), so the charts' "now" and their
 * samples share one clock whatever the servers' clocks say.
 */
export function useAdminHistory(): AdminHistoryHandle {
  const history = useRef(new AdminHistory()).current
  const [version, setVersion] = useState(0)
  const observe = (event: AnyEvent): void => {
    if (isEvent(event, 'mail.sent')) {
      history.mailSent(Date.now(), event.data.durationMs)
    } else if (isEvent(event, 'queue.stats')) {
      history.sample(Date.now(), event.data.queues, event.data.replicas)
      setVersion((v) => v + 1)
    }
  }
  return { history, version, observe }
}
