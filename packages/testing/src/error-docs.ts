import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** docs/errors.md, from src/ or dist/ of this package. */
const ERRORS_DOC = join(__dirname, '..', '..', '..', 'docs', 'errors.md')

/**
 * The error-code table of one app's section (`## api`, `## mailer`, `## worker`)
 * of docs/errors.md: code -> its second column (the HTTP status, or retry / dead
 * letter). Each app's errors-doc unit test compares it with the app's src/errors.ts.
 * Throws on a code listed twice, so a duplicate row cannot hide a disagreement.
 */
export function documentedErrorCodes(app: string): Map<string, string> {
  const text = readFileSync(ERRORS_DOC, 'utf8')
  const section = text.split(/^## /m).find((s) => s.startsWith(`${app}\n`))
  if (!section) throw new Error(`docs/errors.md has no "## ${app}" section`)
  const codes = new Map<string, string>()
  for (const line of section.split('\n')) {
    const row = /^\| `([A-Z][A-Z0-9_]*)` \| ([^|]+) \|/.exec(line)
    if (!row) continue
    if (codes.has(row[1]!)) throw new Error(`docs/errors.md lists ${row[1]} twice under "## ${app}"`)
    codes.set(row[1]!, row[2]!.trim())
  }
  return codes
}
