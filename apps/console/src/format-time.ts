/**
 * The one way the console writes a moment: date and 24-hour time to the
 * second, in the reader's language and time zone ("Dec 7, 2026, 11:11:37").
 * Every page uses it (components/Time.tsx for a `<time>` element), so a time
 * in the event list reads like one on the profile, and one of yesterday is
 * never mistaken for one of today.
 */
const FORMAT = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23'
})

/** An ISO timestamp (as the API sends it) in the console's one format. */
export function formatTime(iso: string): string {
  return FORMAT.format(new Date(iso))
}
