import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { connect, type ChannelModel } from 'amqplib'
import { serviceAddress, withinDeadline } from './deadline'
import { AMQP_URL, RABBITMQ_MANAGEMENT_URL, SERVICE_TIMEOUT_MS } from './services'

const run = promisify(execFile)

/**
 * RabbitMQ's management HTTP API as the broker's administrator: what
 * `rabbitmqctl` does, in milliseconds instead of the second or more each
 * rabbitmqctl call spends starting an Erlang VM. Throws with the status and body
 * of a refusal, names the plugin when nothing listens, and gives up on a
 * request (reading the body included) after `timeoutMs`.
 */
export async function management(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, { baseUrl = RABBITMQ_MANAGEMENT_URL, timeoutMs = SERVICE_TIMEOUT_MS } = {}): Promise<unknown> {
  const url = new URL(path, baseUrl)
  const authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
  url.username = ''
  url.password = ''
  const signal = AbortSignal.timeout(timeoutMs)
  const res = await fetch(url, {
    method,
    headers: { authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    // One signal for the headers and the body: a wedged broker may stall either.
    signal
  }).catch((err: Error) => {
    if (signal.aborted) throw new Error(`RabbitMQ management API at ${url.origin} did not answer ${method} ${url.pathname} within ${timeoutMs / 1000} s`)
    throw new Error(`RabbitMQ management API at ${url.origin} unreachable (rabbitmq-plugins enable rabbitmq_management): ${err.message}`)
  })
  const text = await res.text().catch((err: Error) => {
    throw new Error(`RabbitMQ management API at ${url.origin} stopped answering ${method} ${url.pathname}: ${signal.aborted ? `no body within ${timeoutMs / 1000} s` : err.message}`)
  })
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

/** The vhost of AMQP_URL, encoded for a management API path. */
export function amqpVhost(url = AMQP_URL): string {
  return encodeURIComponent(decodeURIComponent(new URL(url).pathname.slice(1)) || '/')
}

/**
 * Deletes every queue and exchange whose name starts with `prefix` (a test's or a
 * benchmark's AMQP_PREFIX) on the vhost of AMQP_URL: whatever its processes
 * declared, retry queues of any delay included, without having to know the list.
 */
export async function deleteByPrefix(prefix: string): Promise<void> {
  if (prefix === '') throw new Error('deleteByPrefix needs a prefix: an empty one would delete every queue')
  const vhost = amqpVhost()
  for (const kind of ['queues', 'exchanges'] as const) {
    const all = await management('GET', `/api/${kind}/${vhost}?columns=name`) as Array<{ name: string }>
    for (const { name } of all.filter((each) => each.name.startsWith(prefix))) {
      await management('DELETE', `/api/${kind}/${vhost}/${encodeURIComponent(name)}`).catch((err: Error) => {
        if (!/404/.test(err.message)) throw err
      })
    }
  }
}

/**
 * A plain amqplib connection for a test's own look at the broker, bounded at
 * both ends: the TCP connect and the AMQP handshake give up after `timeoutMs`
 * (amqplib's socket timeout, which destroys the socket), and `close()` gives up
 * waiting for the broker's close-ok after `timeoutMs` and destroys the socket.
 * A bare `connect(url)` to a broker that accepts and never answers waits for
 * ever and its socket keeps Jest from exiting after the run.
 */
export async function connectAmqp(url = AMQP_URL, { timeoutMs = SERVICE_TIMEOUT_MS, name = `test-helper:${process.pid}` } = {}): Promise<ChannelModel> {
  const service = `RabbitMQ (AMQP at ${serviceAddress(url)})`
  const model = await connect(url, { timeout: timeoutMs, clientProperties: { connection_name: name } }).catch((err: Error) => {
    throw new Error(`${service} ${/ETIMEDOUT/.test(err.message) ? `did not complete the AMQP handshake within ${timeoutMs / 1000} s` : `refused the connection: ${err.message}`}`)
  })
  const close = model.close.bind(model)
  const stream = (model.connection as unknown as { stream: { destroy(err: Error): void } }).stream
  model.close = () => withinDeadline(close(), timeoutMs, `${service} (closing the connection)`, () => {
    // Destroyed with an error, amqplib closes the connection too (channels, heartbeat timer); a plain
    // destroy() leaves its heartbeat timer to fire an unhandled 'Heartbeat timeout' a minute later.
    model.once('error', () => {}) // that error is the one we give: the caller gets ours
    stream.destroy(new Error('gave up waiting for the broker to close the connection'))
  })
  return model
}
