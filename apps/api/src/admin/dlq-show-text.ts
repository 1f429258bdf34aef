import type { ShownBody, ShownDeadLetter } from './dlq-message'

const HEX_ROW = 16

/** One line a terminal prints as it is: whitespace runs and control characters (text from strangers, an SMTP reply) become one space. */
// eslint-disable-next-line no-control-regex
export const oneLine = (text: string) => text.replace(/[\s\u0000-\u001f\u007f]+/g, ' ')

/**
 * `xxd`-style lines (offset, hex bytes, printable ASCII): binary is shown as bytes, so a poison
 * message cannot send escape sequences to the operator's terminal.
 */
export function hexDump(bytes: Buffer): string[] {
  const lines: string[] = []
  for (let offset = 0; offset < bytes.length; offset += HEX_ROW) {
    const row = bytes.subarray(offset, offset + HEX_ROW)
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ')
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('')
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${hex.padEnd(HEX_ROW * 3 - 1)}  |${ascii}|`)
  }
  return lines
}

function bodyLines(body: ShownBody): string[] {
  const size = `${body.bytes} bytes${body.truncated ? ', cut: the first part shown' : ''}`
  if (body.encoding === 'base64') return [`body (${size}, binary or not UTF-8):`, ...hexDump(Buffer.from(body.data, 'base64'))]
  // Text bodies hold no control characters but tabs and line breaks (see showBody): safe to print as they are.
  return [`body (${size}, text):`, body.data]
}

/** `npm run dlq -- show`: the listing's fields, then properties, headers (each value as JSON, so escaped) and the body. */
export function showText(shown: ShownDeadLetter): string[] {
  const m = shown.message
  const facts: Array<[string, string]> = [
    ['messageId', m.messageId ?? '-'],
    ['type', m.type ?? '-'],
    ['kind', `${m.kind}${m.code ? ` (${m.code})` : ''}`],
    ['reason', m.reason],
    ['attempts', String(m.attempts)],
    ['first failure', m.firstFailedAt ?? '-'],
    ['last failure', m.lastFailedAt ?? '-'],
    ['queue', m.originalQueue]
  ]
  if (m.redriven) facts.push(['replayed before', `${m.redriven.at} by ${m.redriven.by}`])
  const width = Math.max(...facts.map(([k]) => k.length))
  const field = ([name, value]: [string, unknown]) => `  ${name}: ${JSON.stringify(value)}`
  return [
    ...facts.map(([k, v]) => `${k.padEnd(width)}  ${oneLine(v)}`),
    'properties:', ...Object.entries(shown.properties).map(field),
    'headers:', ...Object.entries(shown.headers).map(field),
    ...bodyLines(shown.body)
  ]
}
