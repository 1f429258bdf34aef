import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import amqp from 'amqplib'
import { renderDefinitions } from '../rabbitmq/render-definitions'

/** The service users of the template (keda is optional and left out). */
export const SERVICE_USERS = ['admin', 'api', 'mailer', 'worker'] as const
/** One service user of the template. */
export type ServiceUser = (typeof SERVICE_USERS)[number]

/** rabbitmqctl with a deadline: an unreachable node must fail the test, not hang it. */
export function rabbitmqctl(...args: string[]): string {
  return execFileSync('rabbitmqctl', args, { stdio: 'pipe', timeout: 60000 }).toString()
}

/**
 * The rendered definitions, imported into the local RabbitMQ under a
 * throwaway vhost and throwaway user names: the broker is shared with other
 * test runs, and users are broker-wide, so nothing here may reuse a name.
 * `remove()` deletes exactly what `importDefinitions()` created.
 */
export interface ImportedDefinitions {
  vhost: string
  passwords: Record<string, string>
  /** The broker's name of a template user. */
  userName(user: ServiceUser): string
  /** AMQP URL of a template user on the throwaway vhost. */
  url(user: ServiceUser): string
  remove(): void
}

/** Renders the template with random passwords and imports it with rabbitmqctl. */
export function importDefinitions(): ImportedDefinitions {
  const suffix = randomBytes(4).toString('hex')
  const vhost = `socialnet_test_defs_${suffix}`
  const userPrefix = `test-${suffix}-`
  const passwords: Record<string, string> = {}
  for (const user of SERVICE_USERS) passwords[`RABBITMQ_${user.toUpperCase()}_PASSWORD`] = `${user}-${randomBytes(8).toString('hex')}`
  const dir = mkdtempSync(join(tmpdir(), 'socialnet-rabbit-'))
  // rabbitmqctl reads the file as the rabbitmq user.
  chmodSync(dir, 0o755)
  const file = join(dir, 'definitions.json')
  writeFileSync(file, JSON.stringify(renderDefinitions(passwords, { vhost, userPrefix })), { mode: 0o644 })
  rabbitmqctl('import_definitions', file)
  rmSync(dir, { recursive: true, force: true })
  const userName = (user: ServiceUser): string => `${userPrefix}${user}`
  return {
    vhost,
    passwords,
    userName,
    url: (user) => `amqp://${userName(user)}:${passwords[`RABBITMQ_${user.toUpperCase()}_PASSWORD`]}@127.0.0.1:5672/${vhost}`,
    remove() {
      try {
        rabbitmqctl('delete_vhost', vhost)
      } finally {
        for (const user of SERVICE_USERS) rabbitmqctl('delete_user', userName(user))
      }
    }
  }
}

/** Runs `fn` on a fresh channel of `url`; resolves to the broker's refusal text, or 'ok'. */
export async function tryAs(url: string, fn: (ch: amqp.Channel) => Promise<unknown>): Promise<string> {
  const connection = await amqp.connect(url)
  connection.on('error', () => {})
  try {
    const ch = await connection.createChannel()
    ch.on('error', () => {})
    await fn(ch)
    await ch.close()
    return 'ok'
  } catch (err) {
    return (err as Error).message
  } finally {
    await connection.close().catch(() => {})
  }
}
