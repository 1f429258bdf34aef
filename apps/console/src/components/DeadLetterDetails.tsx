import { useEffect, useState } from 'preact/hooks'
import { api } from '../api/client'
import type { DeadLetterShown } from '../api/types'
import { ErrorMessage } from './Form'

const HEX_ROW = 16

/** `xxd`-style lines: offset, hex bytes, printable ASCII. */
export function hexDump(bytes: Uint8Array): string {
  const lines: string[] = []
  for (let offset = 0; offset < bytes.length; offset += HEX_ROW) {
    const row = [...bytes.subarray(offset, offset + HEX_ROW)]
    const hex = row.map((b) => b.toString(16).padStart(2, '0')).join(' ')
    const ascii = row.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('')
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${hex.padEnd(HEX_ROW * 3 - 1)}  |${ascii}|`)
  }
  return lines.join('\n')
}

/** Text as it came, or indented when it is JSON (most bodies); binary as a hex dump. */
function readable(body: DeadLetterShown['body']): { kind: string; text: string } {
  if (body.encoding === 'base64') return { kind: 'binary or not UTF-8, as hex', text: hexDump(Uint8Array.from(atob(body.data), (c) => c.charCodeAt(0))) }
  if (!body.truncated) {
    try {
      return { kind: 'JSON', text: JSON.stringify(JSON.parse(body.data), null, 2) }
    } catch {
      // Not JSON (a poison message, often): shown as the text it is.
    }
  }
  return { kind: 'text', text: body.data }
}

/** A header or property value as one line: strings as they are, the rest (x-death's tables) as JSON. */
const valueText = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value))

function Fields({ label, fields }: { label: string; fields: Record<string, unknown> }) {
  const entries = Object.entries(fields)
  if (entries.length === 0) return null
  return (
    <table class='fields' aria-label={label}>
      <caption>{label}</caption>
      <tbody>
        {entries.map(([name, value]) => <tr key={name}><th scope='row'><code>{name}</code></th><td><code>{valueText(value)}</code></td></tr>)}
      </tbody>
    </table>
  )
}

/**
 * One dead letter in full (`GET /v1/admin/dlq/{queue}/messages/{messageId}`):
 * properties, headers and body. Everything is rendered as text, never as
 * HTML: a body is whatever a stranger or a bug put in the queue.
 */
export function DeadLetterDetails({ queue, messageId }: { queue: string; messageId: string }) {
  const [shown, setShown] = useState<DeadLetterShown | null>(null)
  const [error, setError] = useState<unknown>(null)
  useEffect(() => {
    const controller = new AbortController()
    api.get<DeadLetterShown>(`/v1/admin/dlq/${encodeURIComponent(queue)}/messages/${encodeURIComponent(messageId)}`, { signal: controller.signal })
      .then(setShown, (err: Error) => { if (err.name !== 'AbortError') setError(err) })
    return () => controller.abort()
  }, [queue, messageId])

  if (error) return <ErrorMessage error={error} />
  if (!shown) return <p class='empty'>Reading the message…</p>
  const body = readable(shown.body)
  const size = shown.body.truncated ? `${shown.body.bytes} bytes, the first 64 KiB shown` : `${shown.body.bytes} bytes`
  return (
    <div class='dead-letter-details' aria-label={`Message ${messageId}`} role='group'>
      <Fields label='Properties' fields={shown.properties} />
      <Fields label='Headers' fields={shown.headers} />
      <h4>Body <small>{size}, {body.kind}</small></h4>
      {shown.body.bytes === 0 ? <p class='empty'>Empty.</p> : <pre class={shown.body.encoding === 'base64' ? 'body hex' : 'body'} tabIndex={0} aria-label={`Body of ${messageId}`}>{body.text}</pre>}
    </div>
  )
}
