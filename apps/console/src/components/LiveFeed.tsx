import { useMemo, useState } from 'preact/hooks'
import type { AnyEvent } from '../events/types'
import { EventList } from './EventList'

interface Filter {
  type: string
  replica: string
}

const ALL = ''
const matches = (filter: Filter) => (event: AnyEvent) =>
  (filter.type === ALL || event.type === filter.type) && (filter.replica === ALL || event.replica === filter.replica)

/** The choices a select offers: what the feed has seen, sorted, plus the current choice (it may have scrolled out). */
function choices(events: AnyEvent[], key: (event: AnyEvent) => string, current: string): string[] {
  const seen = new Set(events.map(key))
  if (current !== ALL) seen.add(current)
  return [...seen].sort()
}

function Choice({ label, value, options, all, onChange }: { label: string; value: string; options: string[]; all: string; onChange: (value: string) => void }) {
  const id = `feed-${label.toLowerCase()}`
  return (
    <span class='choice-field'>
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value={ALL}>{all}</option>
        {options.map((o) => <option key={o} value={o}>{o}</option>)}
      </select>
    </span>
  )
}

/**
 * The admin's live feed of every event, newest first, filtered by event type
 * and by replica. Pause freezes what is on screen so a line can be read;
 * what arrives meanwhile (and matches the filter) is counted, "12 new", and
 * shown on Resume.
 */
export function LiveFeed({ events, max }: { events: AnyEvent[]; max: number }) {
  const [filter, setFilter] = useState<Filter>({ type: ALL, replica: ALL })
  const [frozen, setFrozen] = useState<AnyEvent[] | null>(null)
  const match = matches(filter)

  const shown = (frozen ?? events).filter(match)
  const unseen = useMemo(() => {
    if (!frozen) return 0
    const seen = new Set(frozen.map((e) => e.id))
    return events.filter((e) => !seen.has(e.id) && match(e)).length
  }, [frozen, events, filter])
  // The feed keeps the last `max` events: past that, more arrived than can be counted.
  const newText = `${unseen}${unseen >= max ? '+' : ''} new`

  const types = choices(events, (e) => e.type, filter.type)
  const replicas = choices(events, (e) => e.replica, filter.replica)
  const filtered = filter.type !== ALL || filter.replica !== ALL
  return (
    <>
      <div class='feed-controls'>
        <Choice label='Type' value={filter.type} options={types} all='All types' onChange={(type) => setFilter({ ...filter, type })} />
        <Choice label='Replica' value={filter.replica} options={replicas} all='All replicas' onChange={(replica) => setFilter({ ...filter, replica })} />
        {frozen
          ? <button type='button' onClick={() => setFrozen(null)}>Resume ({newText})</button>
          : <button type='button' class='secondary' onClick={() => setFrozen(events)}>Pause</button>}
      </div>
      <p class='feed-state'>
        {frozen ? `Paused: ${newText} not shown.` : 'Live.'} {filtered && `Showing ${shown.length} of ${(frozen ?? events).length}.`}
      </p>
      <EventList
        events={shown} label='All events' badge='replica'
        empty={filtered && (frozen ?? events).length > 0 ? 'No event matches the filter yet.' : 'Waiting for events…'}
      />
    </>
  )
}
