/**
 * The machine-readable part of a report, `message/delivery-status` (RFC 3464)
 * or `message/feedback-report` (RFC 5965): groups of header-style fields
 * separated by blank lines. mailparser hands us that part as raw text and no
 * maintained npm library parses these fields, so the little grammar we need
 * (unfolding, `Name: value`, case-insensitive names) is done here.
 */

/** One group of fields, names lower-cased; a repeated field keeps its first value. */
export type FieldGroup = Map<string, string>

/** Most groups we read from one part: a DSN lists one group per recipient, and ours name one. */
const MAX_GROUPS = 100

/** Splits the part into its field groups; lines that are not fields are skipped (reports in the wild are sloppy). */
export function parseFieldGroups(text: string): FieldGroup[] {
  const groups: FieldGroup[] = []
  let current: FieldGroup | undefined
  let lastName: string | undefined
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      current = undefined
      lastName = undefined
      continue
    }
    if (/^[ \t]/.test(line)) {
      // A folded line continues the previous field's value.
      if (current && lastName) current.set(lastName, `${current.get(lastName)!} ${line.trim()}`.trim())
      continue
    }
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    if (!/^[a-z0-9-]+$/.test(name)) continue
    if (!current) {
      if (groups.length >= MAX_GROUPS) break
      current = new Map()
      groups.push(current)
    }
    if (current.has(name)) {
      lastName = undefined
      continue
    }
    current.set(name, line.slice(colon + 1).trim())
    lastName = name
  }
  return groups
}

/** `rfc822; ada@example.com` -> `ada@example.com`: the value after a field's `type;` prefix. */
export function typedValue(value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const semi = value.indexOf(';')
  const rest = (semi >= 0 ? value.slice(semi + 1) : value).trim()
  return rest === '' ? undefined : rest
}
