import { useEffect, useRef, useState } from 'preact/hooks'
import type { AnyEvent } from '../events/types'
import { readEventStream, type StreamState } from './event-stream'

export interface UseEventStreamOptions {
  since?: string
  /** See EventStreamOptions.isLast; read once, when the stream opens. */
  isLast?: (event: AnyEvent) => boolean
}

/**
 * Reads an SSE route for as long as the component is shown (and `path` is
 * set); `onEvent` sees every event. Answers the stream's state for display.
 */
export function useEventStream(path: string | null, onEvent: (event: AnyEvent) => void, options: UseEventStreamOptions = {}): StreamState {
  const [state, setState] = useState<StreamState>({ kind: 'connecting' })
  // The latest callback, so a re-render does not reopen the stream.
  const handler = useRef(onEvent)
  handler.current = onEvent
  useEffect(() => {
    if (!path) return undefined
    const controller = new AbortController()
    void readEventStream({
      path,
      signal: controller.signal,
      since: options.since,
      isLast: options.isLast,
      onEvent: (event) => handler.current(event),
      onState: setState
    })
    return () => controller.abort()
    // isLast is a fixed rule per stream, not a reason to reopen it.
  }, [path, options.since])
  return state
}
