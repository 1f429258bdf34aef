import { hostname, userInfo } from 'node:os'
import { parseArgs } from 'node:util'
import { Type } from '@sinclair/typebox'
import { loadConfig, loadConfigOrExit } from '@socialnet/config'
import { BrokerConnection, type DeadLetter } from '@socialnet/broker'
import { ApiConfigSchema } from '../config'
import { DLQ_DEFAULT_LIMIT, DLQ_MAX_LIMIT, DeadLetterService } from './dlq'
import { endQuietlyOnClosedPipe } from './closed-pipe'
import { oneLine, showText } from './dlq-show-text'

const USAGE = `usage: npm run dlq -- <command> <queue> [options]   (in the api image: node /app/apps/api/dist/admin/dlq-cli.js ...)

  list <queue>  [--limit N]                 dead letters (id, type, kind, attempts, failure times, reason)
  peek <queue>  [--limit N]                 the same, with the first 200 characters of each body
  show <queue> --id <messageId>             one dead letter in full: properties, headers, body (text, or a hex dump)
  replay <queue> --id <messageId> [--id ...] [--dry-run]
  replay <queue> --all [--dry-run]          back to the work queue with a fresh attempt count (500 per run)
  delete <queue> --id <messageId>           delete that one dead letter
  purge <queue>                             delete every dead letter of the queue

  <queue> is mail, jobs or thumbnails. --json prints the answer as JSON. --limit: 1..${DLQ_MAX_LIMIT} (default ${DLQ_DEFAULT_LIMIT}).
  show and delete look among the first ${DLQ_MAX_LIMIT} dead letters. Reading loses nothing: messages read go back to the queue.
Reads AMQP_URL and AMQP_PREFIX like the api. Exit 0 on success, 1 when it failed (or a requested id was not found), 2 on a usage error.`

/** The variables the CLI needs, validated by the api's own schema. */
const DlqConfigSchema = Type.Pick(ApiConfigSchema, ['AMQP_URL', 'AMQP_PREFIX'])

const CONNECT_TIMEOUT_MS = 10_000

class UsageError extends Error {}

const COMMANDS = ['list', 'peek', 'show', 'replay', 'delete', 'purge'] as const

interface Command {
  name: typeof COMMANDS[number]
  queue: string
  ids?: string[]
  all: boolean
  dryRun: boolean
  limit?: number
  json: boolean
}

function parseCommand(argv: string[]): Command {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      id: { type: 'string', multiple: true },
      all: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      limit: { type: 'string' },
      json: { type: 'boolean', default: false }
    }
  })
  const [name, queue, ...extra] = positionals
  if (!name || !(COMMANDS as readonly string[]).includes(name)) throw new UsageError(`unknown command: ${name ?? '(none)'}`)
  if (!queue || extra.length > 0) throw new UsageError(`${name} needs exactly one queue: mail, jobs or thumbnails`)
  const command: Command = { name: name as Command['name'], queue, all: values.all, dryRun: values['dry-run'], json: values.json, ids: values.id }
  if (values.limit !== undefined) {
    const limit = Number(values.limit)
    if (!Number.isInteger(limit) || limit < 1 || limit > DLQ_MAX_LIMIT) throw new UsageError(`--limit must be a whole number from 1 to ${DLQ_MAX_LIMIT}`)
    command.limit = limit
  }
  if (command.name === 'replay' && (command.ids !== undefined) === command.all) throw new UsageError('replay needs either --all or one or more --id <messageId>')
  const oneId = command.name === 'show' || command.name === 'delete'
  if (oneId && (command.ids?.length !== 1 || command.all || command.dryRun)) throw new UsageError(`${command.name} needs exactly one --id <messageId>`)
  if (!oneId && command.name !== 'replay' && (command.ids || command.all || command.dryRun)) throw new UsageError('--id belongs to replay, show and delete; --all and --dry-run to replay')
  return command
}

function table(messages: DeadLetter[], preview: boolean): string[] {
  const rows = [['messageId', 'type', 'kind', 'attempts', 'first failure', 'last failure', 'reason']]
  for (const m of messages) {
    rows.push([m.messageId ?? '-', m.type ?? '-', m.kind, String(m.attempts), m.firstFailedAt ?? '-', m.lastFailedAt ?? '-', oneLine(m.reason)])
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  const lines = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '))
  if (!preview) return lines
  return [lines[0]!, ...messages.flatMap((m, i) => [lines[i + 1]!, `    ${m.preview ?? ''}`])]
}

async function run(command: Command, service: DeadLetterService, out: (line: string) => void): Promise<number> {
  const by = `cli:${userInfo().username}@${hostname()}`
  if (command.name === 'list' || command.name === 'peek') {
    const result = await service.list(command.queue, { limit: command.limit, preview: command.name === 'peek' })
    if (command.json) out(JSON.stringify(result))
    else {
      out(`${result.dlq}: ${result.total} dead letter(s)${result.total > result.messages.length ? `, showing the first ${result.messages.length}` : ''}`)
      if (result.messages.length > 0) table(result.messages, command.name === 'peek').forEach(out)
    }
    return 0
  }
  if (command.name === 'show') {
    const result = await service.show(command.queue, command.ids![0]!, by)
    if (command.json) out(JSON.stringify(result))
    else showText(result).forEach(out)
    return 0
  }
  if (command.name === 'delete') {
    const result = await service.delete(command.queue, command.ids![0]!, by)
    if (command.json) out(JSON.stringify(result))
    else out(`deleted ${result.deleted.messageId ?? ''} of ${command.queue} (${result.deleted.type ?? 'no type'}: ${oneLine(result.deleted.reason)}); ${result.remaining} dead letter(s) left`)
    return 0
  }
  if (command.name === 'purge') {
    const result = await service.purge(command.queue, by)
    out(command.json ? JSON.stringify(result) : `purged ${result.purged} dead letter(s) of ${command.queue}`)
    return 0
  }
  const result = await service.replay(command.queue, { messageIds: command.ids, all: command.all || undefined, dryRun: command.dryRun }, by)
  if (command.json) out(JSON.stringify(result))
  else {
    out(`${result.dryRun ? 'would replay' : 'replayed'} ${result.replayed} message(s) to ${command.queue}${result.messageIds.length > 0 ? `: ${result.messageIds.join(' ')}` : ''}`)
    if (result.notFound.length > 0) out(`not found: ${result.notFound.join(' ')}`)
    out(`${result.remaining} dead letter(s) left`)
  }
  return result.notFound.length > 0 ? 1 : 0
}

/** Entry point: parse, validate AMQP_URL/AMQP_PREFIX, connect (10 s at most), run one command, exit 0/1/2. */
async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`)
    return argv.length === 0 ? 2 : 0
  }
  let command: Command
  try {
    command = parseCommand(argv)
  } catch (err) {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    if (!usage) throw err
    process.stderr.write(`dlq: ${(err as Error).message}\n${USAGE}\n`)
    return 2
  }
  const config = loadConfigOrExit('dlq', () => loadConfig(DlqConfigSchema))
  const connection = new BrokerConnection({ url: config.AMQP_URL, prefix: config.AMQP_PREFIX, name: `dlq-cli@${hostname()}:${process.pid}` })
  const audit = { info: (_: object, msg: string) => process.stderr.write(`dlq: ${msg}\n`) }
  try {
    const timer = setTimeout(() => void connection.close(), CONNECT_TIMEOUT_MS)
    try {
      await connection.connect()
    } catch {
      process.stderr.write(`dlq: cannot reach RabbitMQ at AMQP_URL within ${CONNECT_TIMEOUT_MS / 1000} s\n`)
      return 1
    } finally {
      clearTimeout(timer)
    }
    return await run(command, new DeadLetterService(connection, audit), (line) => process.stdout.write(`${line}\n`))
  } catch (err) {
    process.stderr.write(`dlq: ${(err as Error).message}\n`)
    return 1
  } finally {
    await connection.close()
  }
}

endQuietlyOnClosedPipe()
main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (err: Error) => {
  process.stderr.write(`dlq: ${err.message}\n`)
  process.exitCode = 1
})
