import { typedValue, type FieldGroup } from './report-fields'

/**
 * What one report means for the mail it names, decided here and only here:
 * - DSN (RFC 3464): a recipient `Action: failed` with `Status: 5.x.x` is a hard
 *   bounce; `failed` with `4.x.x`, or `delayed`, a soft one; `delivered`,
 *   `relayed`, `expanded` say nothing against the address (ignored).
 * - ARF (RFC 5965): any feedback report is a complaint, except `not-spam`.
 * - Anything else, or a report missing what it needs (a status), is malformed.
 */
export type Verdict =
  | { outcome: 'hard' | 'soft'; source: 'dsn'; status: string; diagnostic: string | null; smtpCode: number | null }
  | { outcome: 'complaint'; source: 'arf'; status: string; diagnostic: null; smtpCode: null }
  | { outcome: 'ignored'; why: string }
  | { outcome: 'malformed'; why: string }

/** Every outcome a report can have, as counted in bounces_reports_total (unknown_message: not a mail we logged). */
export type ReportOutcome = Verdict['outcome'] | 'unknown_message'
export const REPORT_OUTCOMES: readonly ReportOutcome[] = ['hard', 'soft', 'complaint', 'ignored', 'malformed', 'unknown_message']

const STATUS = /^([245])\.\d{1,3}\.\d{1,3}$/
const NOTHING_WRONG = new Set(['delivered', 'relayed', 'expanded'])
// Which recipient speaks for the report when a DSN lists several: the worst news wins.
const RANK = { hard: 3, soft: 2, ignored: 1, malformed: 0 } as const

type RecipientVerdict = Exclude<Verdict, { outcome: 'complaint' }>

function recipientVerdict(fields: FieldGroup): RecipientVerdict {
  const action = fields.get('action')?.toLowerCase().split(/[\s(]/)[0]
  if (!action) return { outcome: 'malformed', why: 'a recipient without Action' }
  if (NOTHING_WRONG.has(action)) return { outcome: 'ignored', why: `Action: ${action}` }
  // `Status: 5.1.1 (comment)`: the code is the first word.
  const status = fields.get('status')?.split(/[\s(]/)[0] ?? ''
  const statusClass = STATUS.exec(status)?.[1]
  if (!statusClass) return { outcome: 'malformed', why: status ? `bad Status "${status.slice(0, 40)}"` : 'a recipient without Status' }
  const diagnosticField = fields.get('diagnostic-code')
  const diagnostic = typedValue(diagnosticField)?.slice(0, 1000) ?? null
  const smtpCode = diagnosticField?.toLowerCase().startsWith('smtp') && diagnostic ? Number(/^([245]\d\d)\b/.exec(diagnostic)?.[1] ?? NaN) : NaN
  const bounce = { source: 'dsn' as const, status, diagnostic, smtpCode: Number.isNaN(smtpCode) ? null : smtpCode }
  if (action === 'delayed') return { outcome: 'soft', ...bounce }
  if (action !== 'failed') return { outcome: 'malformed', why: `unknown Action "${action.slice(0, 40)}"` }
  if (statusClass === '5') return { outcome: 'hard', ...bounce }
  if (statusClass === '4') return { outcome: 'soft', ...bounce }
  return { outcome: 'malformed', why: `Action: failed with success Status ${status}` }
}

/** The verdict of a `message/delivery-status` part, given its field groups (the first is per-message). */
export function deliveryStatusVerdict(groups: readonly FieldGroup[]): Verdict {
  const recipients = groups.slice(1)
  if (recipients.length === 0) return { outcome: 'malformed', why: 'a delivery-status part without recipient fields' }
  let worst: RecipientVerdict | undefined
  for (const fields of recipients) {
    const verdict = recipientVerdict(fields)
    if (!worst || RANK[verdict.outcome] > RANK[worst.outcome]) worst = verdict
  }
  return worst!
}

/** The verdict of a `message/feedback-report` part (one group of fields). */
export function feedbackReportVerdict(groups: readonly FieldGroup[]): Verdict {
  const feedbackType = groups[0]?.get('feedback-type')?.toLowerCase().split(/[\s;]/)[0]
  if (!feedbackType) return { outcome: 'malformed', why: 'a feedback report without Feedback-Type' }
  if (feedbackType === 'not-spam') return { outcome: 'ignored', why: 'Feedback-Type: not-spam' }
  return { outcome: 'complaint', source: 'arf', status: feedbackType.slice(0, 40), diagnostic: null, smtpCode: null }
}
