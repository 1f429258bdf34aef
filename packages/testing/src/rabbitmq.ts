import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { AMQP_URL, RABBITMQ_MANAGEMENT_URL } from './services'

const run = promisify(execFile)

/**
 * RabbitMQ's management HTTP API as the broker's administrator: what
 * `rabbitmqctl` does, in milliseconds instead of the second or more each
 * rabbitmqctl call spends starting an Erlang VM. Throws with the status and body
 * of a refusal, and names the plugin when nothing answers.
 */
export async function management(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<unknown> {
  const url = new URL(path, RABBITMQ_MANAGEMENT_URL)
  const authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
  url.username = ''
  url.password = ''
  const res = await fetch(url, {
    method,
    headers: { authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000)
  }).catch((err: Error) => {
    throw new Error(`RabbitMQ management API at ${url.origin} unreachable (rabbitmq-plugins enable rabbitmq_management): ${err.message}`)
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`)
  return text ? JSON.parse(text) : undefined
}

/**
 * Closes, from the broker's side, every client connection named `name`
 * (`connection_name`, as BrokerConnection sets it): what a broker restart or a
 * network cut looks like to the client, without disturbing anyone else's
 * connections. Resolves with how many it closed. Through rabbitmqctl, not the
 * management API: the API lists a new connection only after its next statistics
 * tick (up to 5 s), rabbitmqctl at once.
 */
export async function closeBrokerConnections(name: string, reason = 'test: simulated broker outage'): Promise<number> {
  const { stdout } = await run('rabbitmqctl', ['list_connections', 'pid', 'client_properties', '-q'], { timeout: 60_000 })
  const pids = stdout
    .split('\n')
    .filter((line) => line.includes(`{"connection_name","${name}"}`))
    .map((line) => line.split('\t')[0]!)
  for (const pid of pids) await run('rabbitmqctl', ['close_connection', pid, reason], { timeout: 60_000 })
  return pids.length
}

/**
 * Deletes every queue and exchange whose name starts with `prefix` (a test's or a
 * benchmark's AMQP_PREFIX) on the vhost of AMQP_URL: whatever its processes
 * declared, retry queues of any delay included, without having to know the list.
 */
export async function deleteByPrefix(prefix: string): Promise<void> {
  if (prefix === '') throw new Error('deleteByPrefix needs a prefix: an empty one would delete every queue')
  const vhost = encodeURIComponent(decodeURIComponent(new URL(AMQP_URL).pathname.slice(1)) || '/')
  for (const kind of ['queues', 'exchanges'] as const) {
    const all = await management('GET', `/api/${kind}/${vhost}?columns=name`) as Array<{ name: string }>
    for (const { name } of all.filter((each) => each.name.startsWith(prefix))) {
      await management('DELETE', `/api/${kind}/${vhost}/${encodeURIComponent(name)}`).catch((err: Error) => {
        if (!/404/.test(err.message)) throw err
      })
    }
  }
}
