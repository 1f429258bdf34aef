import { randomBytes } from 'node:crypto'
import type amqp from 'amqplib'
import { connectAmqp, management } from '@socialnet/testing'
import { renderDefinitions } from '../rabbitmq/render-definitions'

/** The service users of the template (keda is optional and left out). */
export const SERVICE_USERS = ['admin', 'api', 'mailer', 'worker', 'bounces'] as const
/** One service user of the template. */
export type ServiceUser = (typeof SERVICE_USERS)[number]

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
  remove(): Promise<void>
}

/** Renders the template with random passwords and imports it, as the broker imports its definitions file at boot. */
export async function importDefinitions(): Promise<ImportedDefinitions> {
  const suffix = randomBytes(4).toString('hex')
  const vhost = `socialnet_test_defs_${suffix}`
  const userPrefix = `test-${suffix}-`
  const passwords: Record<string, string> = {}
  for (const user of SERVICE_USERS) passwords[`RABBITMQ_${user.toUpperCase()}_PASSWORD`] = `${user}-${randomBytes(8).toString('hex')}`
  await management('POST', '/api/definitions', renderDefinitions(passwords, { vhost, userPrefix }))
  const userName = (user: ServiceUser): string => `${userPrefix}${user}`
  return {
    vhost,
    passwords,
    userName,
    url: (user) => `amqp://${userName(user)}:${passwords[`RABBITMQ_${user.toUpperCase()}_PASSWORD`]}@127.0.0.1:5672/${vhost}`,
    async remove() {
      try {
        await management('DELETE', `/api/vhosts/${encodeURIComponent(vhost)}`)
      } finally {
        await management('POST', '/api/users/bulk-delete', { users: SERVICE_USERS.map(userName) })
      }
    }
  }
}

/** Runs `fn` on a fresh channel of `url`; resolves to the broker's refusal text, or 'ok'. */
export async function tryAs(url: string, fn: (ch: amqp.Channel) => Promise<unknown>): Promise<string> {
  const connection = await connectAmqp(url)
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
