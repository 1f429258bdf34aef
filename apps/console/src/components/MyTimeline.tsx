import { useState } from 'preact/hooks'
import type { AnyEvent } from '../events/types'
import { useEventStream } from '../streams/use-event-stream'
import { EventList, withEvent } from './EventList'
import { StreamStatus } from './StreamStatus'

/**
 * The signed-in person's own events, live (`GET /v1/events`), starting with
 * what the server still keeps of the last 10 minutes: a welcome mail sent
 * before this page opened still shows.
 */
export function MyTimeline({ onEvent }: { onEvent?: (event: AnyEvent) => void }) {
  const [events, setEvents] = useState<AnyEvent[]>([])
  const state = useEventStream('/v1/events', (event) => {
    setEvents((list) => withEvent(list, event))
    onEvent?.(event)
  }, { since: '0-0' })
  return (
    <section aria-labelledby='timeline-heading'>
      <h2 id='timeline-heading'>What happened, step by step <StreamStatus state={state} /></h2>
      <EventList events={events} label='My events' empty='Nothing yet: your events appear here as they happen.' />
    </section>
  )
}
