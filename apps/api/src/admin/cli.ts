import { parseArgs } from 'node:util'
import type { Pool } from 'pg'
import { Type } from '@sinclair/typebox'
import { loadConfig, loadConfigOrExit } from '@socialnet/config'
import { openDatabase, type DbLogger } from '@socialnet/db'
import { ApiConfigSchema } from '../config'
import { AdminError, createKey, listKeys, promote, revokeKey, type AdminOutput } from './commands'
import { SUPPRESSION_USAGE, parseSuppressionCommand } from './suppression-commands'
import { dkimCommand } from './dkim'
import { endQuietlyOnClosedPipe } from './closed-pipe'

const USAGE = `usage: npm run admin -- <command>   (in the api image: node /app/apps/api/dist/admin/cli.js <command>)

  promote <email>                                        give a registered user the admin role
  api-key create --scope kv:write [--scope kv:read] [--name <label>]
                                                         mint an API key; prints the key alone on stdout, once
  api-key list                                           ids, names, scopes and use dates (never the keys)
  api-key revoke <id>                                    the key stops working within API_KEY_CACHE_MS
${SUPPRESSION_USAGE}
  dkim generate [--selector s] [--domain d] [--out file]  write a new DKIM key (mode 0600) for the mailer's
                                                         DKIM_PRIVATE_KEY_FILE; prints the DNS TXT record to publish

Reads DATABASE_URL like the api, creating and migrating the database if needed (dkim needs none). Exit 0 on success, 1 otherwise.`

/** The one variable the CLI needs, validated by the api's own schema. */
const AdminConfigSchema = Type.Pick(ApiConfigSchema, ['DATABASE_URL'])

/** Only warnings and errors of the migration step reach the operator, on stderr. */
const quietLog: DbLogger = {
  info: () => {},
  warn: (obj, msg) => process.stderr.write(`admin: ${msg ?? String(obj)}\n`),
  error: (obj, msg) => process.stderr.write(`admin: ${msg ?? String(obj)}\n`)
}

const io: AdminOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  note: (line) => process.stderr.write(`${line}\n`)
}

/** DATABASE_URL without its password, for error messages. */
function redacted(databaseUrl: string): string {
  const url = new URL(databaseUrl)
  if (url.password) url.password = '***'
  return url.toString()
}

/** The command `argv` names, ready to run on a database; throws AdminError (with the usage) otherwise. */
function parseCommand(argv: string[]): (db: Pool) => Promise<void> {
  // Parsed apart: its options are its own.
  if (argv[0] === 'suppression') return parseSuppressionCommand(argv.slice(1), io)
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { scope: { type: 'string', multiple: true }, name: { type: 'string' } }
  })
  const [command, sub, arg, ...extra] = positionals
  if (command === 'promote' && arg === undefined) return (db) => promote(db, io, sub)
  if (command === 'api-key' && extra.length === 0) {
    if (sub === 'create' && arg === undefined) return (db) => createKey(db, io, { scopes: values.scope ?? [], name: values.name })
    if (sub === 'list' && arg === undefined) return (db) => listKeys(db, io)
    if (sub === 'revoke') return (db) => revokeKey(db, io, arg)
  }
  throw new AdminError(`unknown command: ${positionals.join(' ') || '(none)'}\n${USAGE}`)
}

/** One line on stderr for a mistake the operator can fix; `failed:` marks anything else. */
function reportError(err: unknown): void {
  // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for unknown or malformed options.
  const isUsage = err instanceof AdminError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
  process.stderr.write(`admin: ${isUsage ? '' : 'failed: '}${(err as Error).message}\n`)
}

/** Entry point: validate DATABASE_URL, open (create + migrate) the database, run one command, exit 0 or 1. */
async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`)
    return argv.length === 0 ? 1 : 0
  }
  if (argv[0] === 'dkim') {
    try {
      dkimCommand(argv.slice(1), io)
      return 0
    } catch (err) {
      reportError(err)
      return 1
    }
  }
  let command: (db: Pool) => Promise<void>
  try {
    command = parseCommand(argv)
  } catch (err) {
    reportError(err)
    return 1
  }
  const config = loadConfigOrExit('admin', () => loadConfig(AdminConfigSchema))
  let db: Pool
  try {
    db = await openDatabase(config.DATABASE_URL, quietLog, 2)
  } catch (err) {
    process.stderr.write(`admin: cannot use the Postgres database at DATABASE_URL=${redacted(config.DATABASE_URL)}: ${(err as Error).message}\n`)
    return 1
  }
  try {
    await command(db)
    return 0
  } catch (err) {
    reportError(err)
    return 1
  } finally {
    await db.end()
  }
}

endQuietlyOnClosedPipe()
main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (err: Error) => {
  process.stderr.write(`admin: ${err.message}\n`)
  process.exitCode = 1
})
