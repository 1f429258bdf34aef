import type { AttemptOutcome } from '../api/types'

/** What each outcome means, as a tooltip. */
const MEANING: Record<AttemptOutcome, string> = {
  sent: 'the receiving server took the mail',
  deferred: 'refused for now (4xx); the mailer tries again later',
  bounced: 'refused for good, or a bounce came back',
  suppressed: 'not sent: the address is on the suppression list',
  throttled: 'held back by the pace for the receiving domain'
}

/** An attempt's outcome as a coloured word: sent, deferred, bounced, suppressed, throttled. */
export function OutcomeBadge({ outcome }: { outcome: AttemptOutcome }) {
  return <span class={`badge outcome outcome-${outcome}`} title={MEANING[outcome]}>{outcome}</span>
}
