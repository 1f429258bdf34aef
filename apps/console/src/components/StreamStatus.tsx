import type { StreamState } from '../streams/event-stream'

const LABELS = { connecting: 'connecting…', open: 'live', ended: 'finished' } as const

/** A small badge saying whether the list next to it is live. */
export function StreamStatus({ state }: { state: StreamState }) {
  const text = state.kind === 'retrying'
    ? `reconnecting in ${Math.ceil(state.inMs / 1000)} s (${state.reason})`
    : state.kind === 'failed'
      ? `stopped: ${state.message}`
      : LABELS[state.kind]
  return <span class={`stream stream-${state.kind}`} role='status'>Stream: {text}</span>
}
