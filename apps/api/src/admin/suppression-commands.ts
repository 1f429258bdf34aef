import { hostname, userInfo } from 'node:os'
import { parseArgs } from 'node:util'
import type { Pool } from 'pg'
import type { SuppressionBody } from '@socialnet/contracts'
import { AdminError, type AdminOutput } from './commands'
import { MAIL_PAGE_MAX, MailDeliveryService, type Actor } from './mail'

/** The usage lines of the suppression commands, for the admin CLI's usage. */
export const SUPPRESSION_USAGE = `  suppression list                                       every suppressed address: reason, source, dates, count, detail
  suppression add <address> [--note <text>]              stop sending to an address (reason manual)
  suppression remove <address>                           lift a suppression; mail to the address goes out again`

/**
 * `suppression list|add|remove [<address>]` as a command ready to run on a
 * database (the admin CLI's shape); throws AdminError on a usage mistake.
 * Its own options (`--note`) are parsed here, so the CLI's other commands
 * keep theirs.
 */
export function parseSuppressionCommand(argv: string[], io: AdminOutput): (db: Pool) => Promise<void> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { note: { type: 'string' } } })
  const [sub, address, ...extra] = positionals
  if (extra.length > 0 || (values.note !== undefined && sub !== 'add')) throw new AdminError(`unknown command: suppression ${argv.join(' ')}\n${SUPPRESSION_USAGE}`)
  const service = (db: Pool) => new MailDeliveryService(db, { info: (_, msg) => io.note(msg) })
  const actor: Actor = { by: `cli:${userInfo().username}@${hostname()}`, source: 'cli' }
  if (sub === 'list' && address === undefined) return (db) => listSuppressions(service(db), io)
  if (sub === 'add' || sub === 'remove') {
    if (!address) throw new AdminError(`suppression ${sub} needs an address: suppression ${sub} <address>`)
    return sub === 'add'
      ? (db) => addSuppression(service(db), io, address, actor, values.note)
      : (db) => removeSuppression(service(db), io, address, actor)
  }
  throw new AdminError(`unknown command: suppression ${argv.join(' ') || '(none)'}\n${SUPPRESSION_USAGE}`)
}

/** The service's 4xx errors (not an address, not listed) are the operator's to fix: one line, no `failed:`. */
async function asOperatorMistake<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode
    if (status !== undefined && status >= 400 && status < 500) throw new AdminError((err as Error).message)
    throw err
  }
}

const date = (iso: string) => iso.replace(/\.\d+Z$/, 'Z')

/** `suppression list`: the whole list in address order, a page of the service at a time. */
async function listSuppressions(service: MailDeliveryService, io: AdminOutput): Promise<void> {
  const all: SuppressionBody[] = []
  let cursor: string | undefined
  do {
    const page = await service.suppressions({ cursor, limit: MAIL_PAGE_MAX })
    all.push(...page.suppressions)
    cursor = page.nextCursor ?? undefined
  } while (cursor)
  if (all.length === 0) {
    io.note('the suppression list is empty')
    return
  }
  const rows = [['address', 'reason', 'source', 'first seen', 'last seen', 'count', 'detail'],
    ...all.map((s) => [s.address, s.reason, s.source, date(s.firstSeenAt), date(s.lastSeenAt), String(s.count), (s.detail ?? '-').replace(/\s+/g, ' ')])]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  for (const r of rows) io.out(r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '))
}

/** `suppression add <address> [--note text]`. */
async function addSuppression(service: MailDeliveryService, io: AdminOutput, address: string, actor: Actor, note?: string): Promise<void> {
  const { suppression: s, created } = await asOperatorMistake(() => service.suppress(address, actor, note))
  if (!created) io.note(`${s.address} was already suppressed (${s.reason}, since ${date(s.firstSeenAt)})`)
}

/** `suppression remove <address>`. */
async function removeSuppression(service: MailDeliveryService, io: AdminOutput, address: string, actor: Actor): Promise<void> {
  await asOperatorMistake(() => service.lift(address, actor))
}
