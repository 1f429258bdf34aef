import { formatTime } from '../format-time'

/** A moment as a `<time>` element: the console's one format for people, the exact ISO value for machines. */
export function Time({ at }: { at: string }) {
  return <time dateTime={at}>{formatTime(at)}</time>
}
