import type { MailAttempt } from '../api/types'
import { ms } from '../events/describe'
import { OutcomeBadge } from './OutcomeBadge'
import { Time } from './Time'

/** A UUID's first group is enough to tell a recipient's mails apart; the whole id is in the tooltip. */
const shortId = (id: string) => (id.length > 12 ? `${id.slice(0, 8)}…` : id)

/** The reply without the code it starts with, which the cell already shows in bold ("250 250 Message queued"). */
function replyText(code: number | null, reply: string | null): string | null {
  if (reply === null || code === null) return reply
  return reply.startsWith(`${code} `) ? reply.slice(String(code).length + 1) : reply
}

/**
 * Delivery attempts: when, outcome, the SMTP reply, which mailer, how long.
 * With `onOpenMessage` each row names its message, and opening it shows that
 * message's whole history.
 */
export function DeliveryAttemptsTable({ attempts, label, onOpenMessage }: { attempts: MailAttempt[]; label: string; onOpenMessage?: (messageId: string) => void }) {
  if (attempts.length === 0) return <p class='empty'>No delivery attempt logged.</p>
  return (
    <table class='attempts' aria-label={label}>
      <thead>
        <tr>
          <th scope='col'>Time</th>
          {onOpenMessage && <th scope='col'>Message</th>}
          <th scope='col'>Outcome</th>
          <th scope='col'>SMTP reply</th>
          <th scope='col'>Replica</th>
          <th scope='col' class='number'>Duration</th>
        </tr>
      </thead>
      <tbody>
        {attempts.map((a, i) => (
          <tr key={`${a.messageId}-${a.at}-${i}`} data-outcome={a.outcome}>
            <td class='nowrap'><Time at={a.at} /></td>
            {onOpenMessage && (
              <td>
                <button type='button' class='link' onClick={() => onOpenMessage(a.messageId)} title={`${a.messageId}: every attempt of this mail`} aria-label={`Message ${a.messageId}`}>
                  <code>{shortId(a.messageId)}</code>
                </button>
              </td>
            )}
            <td><OutcomeBadge outcome={a.outcome} /></td>
            <td>{a.smtpCode !== null && <strong>{a.smtpCode} </strong>}{replyText(a.smtpCode, a.smtpReply) ?? (a.smtpCode === null ? '—' : '')}</td>
            <td>{a.replica}</td>
            <td class='number'>{a.durationMs === null ? '—' : ms(a.durationMs)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
