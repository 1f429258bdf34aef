import type { AnyEvent } from '../events/types'
import { describeEvent } from '../events/describe'
import { Time } from './Time'

/**
 * A live list of events, newest first: time, what happened, and where; the
 * badge names the service, or (`badge='replica'`, the admin's feed of every
 * replica) the replica, coloured by its service.
 */
export function EventList({ events, label, empty, badge = 'service' }: { events: AnyEvent[]; label: string; empty: string; badge?: 'service' | 'replica' }) {
  if (events.length === 0) return <p class='empty'>{empty}</p>
  return (
    <div role='log' aria-label={label} aria-live='polite'>
      <ol class='events'>
        {events.map((event) => {
          const { what, details } = describeEvent(event)
          return (
            <li key={event.id} data-type={event.type}>
              <Time at={event.at} />
              <span class={`service service-${event.service}`} title={badge === 'replica' ? event.service : undefined}>{badge === 'replica' ? event.replica : event.service}</span>
              <span class='what'>{[what, ...details.filter(Boolean)].join(' — ')}</span>
            </li>
          )
        })}
      </ol>
    </div>
  )
}

/** Adds an event to a newest-first list once (a reconnect may repeat one), keeping at most `max`. */
export function withEvent(events: AnyEvent[], event: AnyEvent, max = 200): AnyEvent[] {
  if (events.some((e) => e.id === event.id)) return events
  return [event, ...events].slice(0, max)
}
