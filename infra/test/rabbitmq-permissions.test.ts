import { randomUUID } from 'node:crypto'
import type amqp from 'amqplib'
import { BrokerConnection, Consumer, EventPublisher, Publisher, topology, type AnyConsumedMessage, type QueueNames, type WorkQueue } from '@socialnet/broker'
import { connectAmqp, management, waitFor } from '@socialnet/testing'
import { importDefinitions, tryAs, type ImportedDefinitions, type ServiceUser } from './rabbitmq-definitions'

// Each service user of the rendered definitions, tried for real against the local RabbitMQ:
// least privilege is what the broker enforces, not what the code chooses to do.
const RETRY_DELAYS_MS = [50, 100]
const names = topology({ retryDelaysMs: RETRY_DELAYS_MS })
let defs: ImportedDefinitions
let admin: amqp.ChannelModel
const opened: Array<{ close(): Promise<unknown> }> = []

beforeAll(async () => {
  defs = await importDefinitions()
  admin = await connectAmqp(defs.url('admin'))
})

afterAll(async () => {
  for (const each of opened.reverse()) await each.close().catch(() => {})
  await admin.close().catch(() => {})
  await defs.remove()
})

/** A BrokerConnection as a service's own user, configured the way the service configures it. */
async function serviceConnection(user: ServiceUser, ownsTopology: boolean): Promise<BrokerConnection> {
  const connection = new BrokerConnection({ url: defs.url(user), name: `permissions-test:${user}`, retryDelaysMs: RETRY_DELAYS_MS, ownsTopology, reconnectMaxMs: 500 })
  opened.push(connection)
  await connection.connect()
  return connection
}

/** Every queue of a family: what must stay empty when another service tries to reach it. */
function familyQueues(q: QueueNames): string[] {
  return [q.name, q.dlq, ...q.retries.map((r) => r.name)]
}

async function depth(queue: string): Promise<number> {
  const channel = await admin.createChannel()
  try {
    return (await channel.checkQueue(queue)).messageCount
  } finally {
    await channel.close()
  }
}

async function queueExists(queue: string): Promise<boolean> {
  const channel = await admin.createChannel()
  channel.on('error', () => {})
  try {
    await channel.checkQueue(queue)
    await channel.close()
    return true
  } catch {
    return false
  }
}

type Outcome = 'routed' | 'unroutable' | `refused: ${string}`

const connections = new Map<ServiceUser, amqp.ChannelModel>()

/** One plain connection per user for publishAs (a refusal closes the channel, not the connection). */
async function plainConnection(user: ServiceUser): Promise<amqp.ChannelModel> {
  let connection = connections.get(user)
  if (!connection) {
    connection = await connectAmqp(defs.url(user))
    connection.on('error', () => {})
    connections.set(user, connection)
    opened.push(connection)
  }
  return connection
}

/** Publishes as `user` (mandatory, confirmed, on a fresh channel) and says what the broker did with it. */
async function publishAs(user: ServiceUser, exchange: string, routingKey: string): Promise<Outcome> {
  const channel = await (await plainConnection(user)).createConfirmChannel()
  let returned = false
  channel.on('return', () => (returned = true))
  const closed = new Promise<Outcome>((resolve) => channel.on('error', (err: Error) => resolve(`refused: ${err.message}`)))
  const confirmed = new Promise<Outcome>((resolve) => {
    channel.publish(exchange, routingKey, Buffer.from('{}'), { mandatory: true, persistent: true, messageId: randomUUID(), type: routingKey }, (err) => {
      // basic.return arrives before the confirm of the same message.
      resolve(err ? `refused: ${String(err)}` : returned ? 'unroutable' : 'routed')
    })
  })
  const outcome = await Promise.race([closed, confirmed])
  await channel.close().catch(() => {})
  return outcome
}

/** Every exchange of the test vhost, the default one included (listed with an empty name). */
async function vhostExchanges(): Promise<string[]> {
  const exchanges = await management('GET', `/api/exchanges/${encodeURIComponent(defs.vhost)}?columns=name`) as Array<{ name: string }>
  return [...new Set(exchanges.map((e) => e.name))]
}

/**
 * Tries every exchange of the vhost with every routing key that could reach
 * `victim`'s family (queue names for direct and default exchanges, message
 * types and wildcards for the topic exchange) and returns what got through.
 */
async function attemptsThatReach(user: ServiceUser, victim: WorkQueue, typeKeys: string[]): Promise<string[]> {
  const keys = [...familyQueues(names.queues[victim]), ...typeKeys]
  const through: string[] = []
  for (const exchange of await vhostExchanges()) {
    for (const key of keys) {
      const outcome = await publishAs(user, exchange, key)
      if (outcome === 'routed') through.push(`${exchange || '(default)'} ${key}`)
    }
  }
  return through
}

describe('rabbitmq permissions: each service does its own work and no more', () => {
  test('consumers start before the api: each declares its own queue family and nothing else', async () => {
    await serviceConnection('mailer', false)
    const consumer = new Consumer(await serviceConnection('mailer', false), { queue: 'mail', handler: async () => {} })
    await consumer.start()
    await consumer.stop(1000)
    expect(await queueExists(names.queues.mail.name)).toBe(true)
    expect(await queueExists(names.queues.mail.retries[1]!.name)).toBe(true)
    expect(await queueExists(names.queues.jobs.name)).toBe(false)
  })

  test('(a) the api declares the whole topology and publishes mail, job and thumbnail messages, which are routed', async () => {
    const publisher = new Publisher(await serviceConnection('api', true))
    opened.unshift(publisher)
    await publisher.publish({ type: 'mail.welcome.v1', messageId: randomUUID(), payload: { to: 'ada@example.com', nickname: 'ada', verificationUrl: 'http://localhost:3000/verify?token=abc' } })
    await publisher.publish({ type: 'job.log.v1', messageId: randomUUID(), payload: { jobId: randomUUID(), data: { hello: 'world' } } })
    await publisher.publish({ type: 'image.thumbnails.v1', messageId: randomUUID(), payload: { imageId: randomUUID(), sizes: [64] } })
    expect(await depth(names.queues.mail.name)).toBe(1)
    expect(await depth(names.queues.jobs.name)).toBe(1)
    expect(await depth(names.queues.thumbnails.name)).toBe(1)
    const channel = await admin.createChannel()
    for (const short of ['mail', 'jobs', 'thumbnails'] as const) await channel.purgeQueue(names.queues[short].name)
    await channel.close()
  })

  test('(a) the api may not publish through the default exchange, nor other routing keys on the topic exchange', async () => {
    expect(await publishAs('api', '', names.queues.jobs.name)).toMatch(/ACCESS_REFUSED/)
    expect(await publishAs('api', names.exchange, 'user.created.v1')).toMatch(/ACCESS_REFUSED/)
  })

  test('(b) the mailer cannot put anything in the jobs or thumbnails queues, through any exchange', async () => {
    // What it may do: move its own messages (retries, dead letters) within its family.
    expect(await publishAs('mailer', names.queues.mail.deadLetterExchange, names.queues.mail.dlq)).toBe('routed')
    const own = await admin.createChannel()
    await own.purgeQueue(names.queues.mail.dlq)
    await own.close()
    expect(await publishAs('mailer', '', names.queues.jobs.name)).toMatch(/ACCESS_REFUSED/)
    expect(await publishAs('mailer', names.exchange, 'job.log.v1')).toMatch(/ACCESS_REFUSED/)
    expect(await publishAs('mailer', names.queues.jobs.deadLetterExchange, names.queues.jobs.name)).toMatch(/ACCESS_REFUSED/)
    expect(await attemptsThatReach('mailer', 'jobs', ['job.log.v1', 'job.email.v1', 'job.x', '#'])).toEqual([])
    expect(await attemptsThatReach('mailer', 'thumbnails', ['image.thumbnails.v1', '#'])).toEqual([])
    for (const queue of [...familyQueues(names.queues.jobs), ...familyQueues(names.queues.thumbnails)]) expect(await depth(queue)).toBe(0)
  })

  test('(b) the mailer cannot open a side door: rebind, redirect dead letters, or read other queues', async () => {
    const mail = names.queues.mail
    const jobs = names.queues.jobs
    const refusals = [
      // its own exchange, routed to the jobs queue
      await tryAs(defs.url('mailer'), (ch) => ch.bindQueue(jobs.name, mail.deadLetterExchange, 'sneaky')),
      // the topic exchange, routed to its own queue (it would steal jobs)
      await tryAs(defs.url('mailer'), (ch) => ch.bindQueue(mail.name, names.exchange, 'job.#')),
      // a queue of its own whose dead letters go to the jobs queue
      await tryAs(defs.url('mailer'), (ch) => ch.assertQueue(`${mail.name}.sneaky`, { arguments: { 'x-dead-letter-exchange': jobs.deadLetterExchange, 'x-dead-letter-routing-key': jobs.name } })),
      await tryAs(defs.url('mailer'), (ch) => ch.assertQueue(`${mail.name}.sneaky`, { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': jobs.name } })),
      // an exchange of its own forwarding to the jobs family
      await tryAs(defs.url('mailer'), (ch) => ch.bindExchange(jobs.deadLetterExchange, mail.deadLetterExchange, jobs.name)),
      await tryAs(defs.url('mailer'), (ch) => ch.assertExchange(`${mail.name}.sneaky`, 'fanout', { arguments: { 'alternate-exchange': jobs.deadLetterExchange } })),
      // reading or removing another service's queues
      await tryAs(defs.url('mailer'), (ch) => ch.consume(jobs.name, () => {})),
      await tryAs(defs.url('mailer'), (ch) => ch.get(jobs.dlq)),
      await tryAs(defs.url('mailer'), (ch) => ch.deleteQueue(jobs.name)),
      await tryAs(defs.url('mailer'), (ch) => ch.deleteExchange(names.exchange))
    ]
    for (const refusal of refusals) expect(refusal).toMatch(/ACCESS_REFUSED/)
    expect(await queueExists(`${mail.name}.sneaky`)).toBe(false)
  })

  test('(c) the worker cannot put anything in the mail queues except the mail.send.v1 of an email job', async () => {
    expect(await publishAs('worker', '', names.queues.mail.name)).toMatch(/ACCESS_REFUSED/)
    expect(await publishAs('worker', names.exchange, 'mail.welcome.v1')).toMatch(/ACCESS_REFUSED/)
    expect(await publishAs('worker', names.exchange, 'job.log.v1')).toMatch(/ACCESS_REFUSED/)
    expect(await publishAs('worker', names.queues.mail.deadLetterExchange, names.queues.mail.name)).toMatch(/ACCESS_REFUSED/)
    expect(await attemptsThatReach('worker', 'mail', ['mail.welcome.v1', 'mail.x', '#'])).toEqual([])
    for (const queue of familyQueues(names.queues.mail)) expect(await depth(queue)).toBe(0)
    expect(await tryAs(defs.url('worker'), (ch) => ch.consume(names.queues.mail.name, () => {}))).toMatch(/ACCESS_REFUSED/)
    expect(await tryAs(defs.url('worker'), (ch) => ch.bindQueue(names.queues.jobs.name, names.exchange, 'mail.#'))).toMatch(/ACCESS_REFUSED/)
    // The one route the worker needs (email jobs hand their mail to the mailer).
    expect(await publishAs('worker', names.exchange, 'mail.send.v1')).toBe('routed')
    const channel = await admin.createChannel()
    await channel.purgeQueue(names.queues.mail.name)
    await channel.close()
  })

  describe('(d) the real consumers under their own users', () => {
    let api: Publisher

    beforeAll(async () => {
      api = new Publisher(await serviceConnection('api', true))
      opened.unshift(api)
    })

    async function consumeAs(user: ServiceUser, queue: WorkQueue, failing: Map<string, number>): Promise<{ consumer: Consumer; acked: string[] }> {
      const acked: string[] = []
      const handler = async (message: AnyConsumedMessage): Promise<void> => {
        const left = failing.get(message.messageId) ?? 0
        if (left > 0) {
          failing.set(message.messageId, left - 1)
          throw new Error('fails on purpose')
        }
        acked.push(message.messageId)
      }
      const consumer = new Consumer(await serviceConnection(user, false), { queue, handler, maxAttempts: 3, confirmTimeoutMs: 5000 })
      opened.unshift({ close: () => consumer.stop(1000) })
      await consumer.start()
      return { consumer, acked }
    }

    test.each([
      ['mailer', 'mail', () => ({ type: 'mail.welcome.v1', payload: { to: 'ada@example.com', nickname: 'ada', verificationUrl: 'http://localhost:3000/verify?token=abc' } })],
      ['worker', 'jobs', () => ({ type: 'job.log.v1', payload: { jobId: randomUUID(), data: {} } })],
      ['worker', 'thumbnails', () => ({ type: 'image.thumbnails.v1', payload: { imageId: randomUUID(), sizes: [64] } })]
    ] as const)('the %s retries a failed %s message and dead-letters one that always fails', async (user, queue, message) => {
      const once = randomUUID()
      const always = randomUUID()
      const { consumer, acked } = await consumeAs(user, queue, new Map([[once, 1], [always, 99]]))
      await api.publish({ ...message(), messageId: once } as Parameters<Publisher['publish']>[0])
      await api.publish({ ...message(), messageId: always } as Parameters<Publisher['publish']>[0])
      const dlq = names.queues[queue].dlq
      await waitFor(async () => acked.includes(once) && (await depth(dlq)) === 1, `a retried ack and a dead letter in ${dlq}`)
      await consumer.stop(1000)
      const channel = await admin.createChannel()
      const dead = await channel.get(dlq, { noAck: true })
      await channel.close()
      expect(dead && dead.properties.messageId).toBe(always)
      expect(dead && dead.properties.headers?.['x-failure-kind']).toBe('exhausted')
      expect(acked).toEqual([once])
      for (const each of familyQueues(names.queues[queue])) expect(await depth(each)).toBe(0)
    })
  })

  describe('(e) events: each service publishes its own event types to the events exchange, only the api reads them', () => {
    const events = names.events

    beforeAll(async () => {
      // The api's topology (declared by test (a)'s connection) holds the events exchange and queue.
      await serviceConnection('api', true)
    })

    afterEach(async () => {
      const channel = await admin.createChannel()
      await channel.purgeQueue(events.queue)
      await channel.close()
    })

    test('mailer: mail.* events only; worker: job.* and image.* only; api: its own types; all: their heartbeats', async () => {
      expect(await publishAs('mailer', events.exchange, 'mail.sent')).toBe('routed')
      expect(await publishAs('mailer', events.exchange, 'job.status')).toMatch(/ACCESS_REFUSED/)
      expect(await publishAs('mailer', events.exchange, 'queue.stats')).toMatch(/ACCESS_REFUSED/)
      expect(await publishAs('worker', events.exchange, 'job.status')).toBe('routed')
      expect(await publishAs('worker', events.exchange, 'image.thumbnails_made')).toBe('routed')
      expect(await publishAs('worker', events.exchange, 'mail.sent')).toMatch(/ACCESS_REFUSED/)
      expect(await publishAs('api', events.exchange, 'user.registered')).toBe('routed')
      expect(await publishAs('api', events.exchange, 'outbox.published')).toBe('routed')
      expect(await publishAs('bounces', events.exchange, 'mail.bounced')).toBe('routed')
      expect(await publishAs('bounces', events.exchange, 'mail.suppressed')).toBe('routed')
      expect(await publishAs('bounces', events.exchange, 'mail.sent')).toMatch(/ACCESS_REFUSED/)
      // Every service beats (replica.heartbeat, replica.stopped); none may speak for the api's queue.stats.
      for (const user of ['api', 'mailer', 'worker', 'bounces'] as const) expect(await publishAs(user, events.exchange, 'replica.heartbeat')).toBe('routed')
      expect(await publishAs('bounces', events.exchange, 'replica.stopped')).toBe('routed')
      expect(await publishAs('bounces', events.exchange, 'replica.other')).toMatch(/ACCESS_REFUSED/)
      // Batches: each service its own key only (the collector checks the types inside).
      for (const user of ['api', 'mailer', 'worker', 'bounces'] as const) expect(await publishAs(user, events.exchange, `batch.${user}`)).toBe('routed')
      expect(await publishAs('mailer', events.exchange, 'batch.api')).toMatch(/ACCESS_REFUSED/)
      expect(await publishAs('worker', events.exchange, 'batch.mailer')).toMatch(/ACCESS_REFUSED/)
      expect(await publishAs('bounces', events.exchange, 'batch.bounces.x')).toMatch(/ACCESS_REFUSED/)
      expect(await depth(events.queue)).toBe(16)
    })

    test('mailer and worker cannot read, rebind or remove the events exchange and queue; the api can read the queue', async () => {
      for (const user of ['mailer', 'worker', 'bounces'] as const) {
        const refusals = [
          await tryAs(defs.url(user), (ch) => ch.consume(events.queue, () => {})),
          await tryAs(defs.url(user), (ch) => ch.get(events.queue)),
          await tryAs(defs.url(user), (ch) => ch.deleteExchange(events.exchange)),
          await tryAs(defs.url(user), (ch) => ch.deleteQueue(events.queue)),
          await tryAs(defs.url(user), (ch) => ch.assertExchange(events.exchange, 'topic', { durable: true })),
          await tryAs(defs.url(user), (ch) => ch.bindQueue(names.queues[user === 'worker' ? 'jobs' : 'mail'].name, events.exchange, '#'))
        ]
        for (const refusal of refusals) expect(refusal).toMatch(/ACCESS_REFUSED/)
      }
      expect(await tryAs(defs.url('api'), (ch) => ch.get(events.queue))).toBe('ok')
    })

    test('the EventPublisher under the mailer\'s and worker\'s own users: their events arrive', async () => {
      for (const [user, type] of [['mailer', 'mail.sent'], ['worker', 'job.status'], ['bounces', 'mail.bounced']] as const) {
        const publisher = new EventPublisher(await serviceConnection(user, false), { service: user, replica: `${user}-1` })
        opened.unshift(publisher)
        publisher.emit(type, { subject: 'x:1', data: {} })
      }
      await waitFor(async () => (await depth(events.queue)) === 3, 'three events in the collector queue')
    })
  })
})
