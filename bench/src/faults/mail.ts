/**
 * Faults on the mail path, each with real mailer processes (apps/mailer/dist)
 * sending to a real local SMTP server that counts mails by Message-ID (the
 * mailer derives it from the AMQP messageId):
 *  - mailer.kill-9: two mailers, one SIGKILLed while it holds messages;
 *  - smtp.stall-refuse: the SMTP server stalls past the send timeout, then
 *    answers 421/451, then recovers;
 *  - poison: malformed JSON, wrong schema, unknown type and no messageId
 *    between good mails -> dead-letter queue at once, good mails still sent.
 */
import { randomBytes } from 'node:crypto'
import amqplib from 'amqplib'
import { BrokerConnection, Publisher, declareTopology, type QueueNames } from '@socialnet/broker'
import type { BenchEnv } from '../harness'
import { AMQP_URL, RETRY_DELAYS_MS, namespace, sleep, startChild, startSmtpSink, tally, waitUntil, type Child, type Fault, type FaultOutcome, type SmtpSink } from './testbed'

// Long enough for a domain the SMTP server answered 4xx: the mailer slows it (at most to an
// eighth of its pace, MAIL_DOMAIN_RATE_PER_MINUTE) and sends the deferred rest at that pace, which
// made smtp.stall-refuse take 89 s instead of 74 (nothing lost, only later). The wait
// ends as soon as everything arrived.
const SETTLE_MS = 180000

function welcome(i: number) {
  return { to: `user${i}@example.com`, nickname: `user${i}`, verificationUrl: `http://localhost:3000/verify?token=${randomBytes(12).toString('base64url')}` }
}

interface MailTestbed {
  ns: BenchEnv
  sink: SmtpSink
  procs: Child[]
  channel: amqplib.Channel
  queue: QueueNames
  publisher: Publisher
  close(): Promise<void>
  publish(n: number, label: string): Promise<string[]>
  depth(name: string): Promise<number>
}

/** Runs `fn(bed)` on a fresh mail testbed and closes the testbed afterwards, whatever happened. */
async function withMailTestbed<T>(fault: string, mailers: number, mailerEnv: Record<string, string>, fn: (bed: MailTestbed) => Promise<T>): Promise<T> {
  const bed = await mailTestbed(fault, mailers, mailerEnv)
  try {
    return await fn(bed)
  } finally {
    await bed.close()
  }
}

/**
 * Mailers + SMTP sink + publisher in one namespace; close() tears all of it
 * down, and so does a failure while setting it up (nothing is left running).
 */
async function mailTestbed(fault: string, mailers: number, mailerEnv: Record<string, string> = {}): Promise<MailTestbed> {
  const ns = namespace(fault)
  const opened: { procs: Child[], publisher?: Publisher, connection?: BrokerConnection, amqp?: amqplib.ChannelModel, sink?: SmtpSink } = { procs: [] }
  const close = async () => {
    await opened.publisher?.close().catch(() => {})
    await opened.connection?.close().catch(() => {})
    for (const p of opened.procs) await p.stop()
    await opened.amqp?.close().catch(() => {})
    await opened.sink?.close()
    await ns.cleanup()
  }
  try {
    const sink = opened.sink = await startSmtpSink()
    const env = { ...ns.env, SMTP_URL: sink.url, MAIL_MAX_ATTEMPTS: '20', MAIL_SEND_TIMEOUT_MS: '2000', ...mailerEnv }
    const amqp = opened.amqp = await amqplib.connect(AMQP_URL)
    amqp.on('error', () => {})
    const channel = await amqp.createChannel()
    channel.on('error', () => {})
    // Declared before the mailers start, with their arguments, so the queue can be watched at once.
    await declareTopology(channel, ns.names)
    const procs = opened.procs = Array.from({ length: mailers }, () => startChild('mailer', env))
    const queue = ns.names.queues.mail
    const consumers = await waitUntil(() => channel.checkQueue(queue.name).then((q) => q.consumerCount === mailers, () => false), 30000)
    if (!consumers) throw new Error(`mailers did not start consuming: ${procs.map((p) => p.output).join('\n')}`)
    const connection = opened.connection = new BrokerConnection({ url: AMQP_URL, name: `faults-${fault}`, prefix: ns.prefix, retryDelaysMs: RETRY_DELAYS_MS.split(',').map(Number) })
    await connection.connect()
    const publisher = opened.publisher = new Publisher(connection, { maxBuffered: 5000, timeoutMs: 30000 })
    return {
      ns,
      sink,
      procs,
      channel,
      queue,
      publisher,
      close,
      /** Publishes n welcome mails (each confirmed) and returns their ids. */
      async publish(n, label) {
        const ids = Array.from({ length: n }, (_, i) => `${label}-${ns.tag}-${i}`)
        await Promise.all(ids.map((messageId, i) => publisher.publish({ type: 'mail.welcome.v1', messageId, payload: welcome(i) })))
        return ids
      },
      depth: async (name: string) => (await channel.checkQueue(name)).messageCount
    }
  } catch (err) {
    await close()
    throw err
  }
}

/** Waits until every id arrived at the sink (or SETTLE_MS), then lets stragglers (duplicates) show up. */
async function settle(bed: MailTestbed, ids: readonly string[]): Promise<void> {
  await waitUntil(() => ids.every((id) => bed.sink.byId.has(id)), SETTLE_MS)
  await waitUntil(async () => (await bed.depth(bed.queue.name)) === 0, 10000)
  await sleep(1000)
}

export const mailerKill: Fault = {
  name: 'mailer.kill-9',
  fault: 'kill -9 one of two mailers mid-stream',
  async run({ quick, log }) {
    const n = quick ? 300 : 1000
    return withMailTestbed('mailerkill', 2, {}, async (bed) => {
      const ids = await bed.publish(n, 'kill')
      await waitUntil(() => bed.sink.byId.size >= n / 3, 30000)
      const victim = bed.procs[0]!
      log(`mailer.kill-9: ${bed.sink.byId.size}/${n} sent, SIGKILL mailer 1 (pid ${victim.child.pid})`)
      await victim.kill('SIGKILL')
      await settle(bed, ids)
      return { ...tally(ids, bed.sink.byId), notes: `killed after ${Math.round(n / 3)} mails; its unacked messages went to mailer 2` }
    })
  }
}

export const smtpStall: Fault = {
  name: 'smtp.stall-refuse',
  fault: 'SMTP server stalls (past the 2 s send timeout), then refuses 421/451, then recovers',
  async run({ quick, log }) {
    const n = quick ? 100 : 300
    const phaseMs = quick ? 3000 : 5000
    return withMailTestbed('smtpstall', 1, { MAIL_SMTP_POOL: '2' }, async (bed) => {
      const first = await bed.publish(Math.floor(n / 3), 'before')
      await waitUntil(() => first.every((id) => bed.sink.byId.has(id)), 20000)
      bed.sink.mode = 'stall'
      bed.sink.stallMs = 4000
      const during = await bed.publish(n - first.length, 'during')
      log(`smtp.stall-refuse: stalling ${phaseMs} ms`)
      await sleep(phaseMs)
      bed.sink.mode = 'refuse'
      log(`smtp.stall-refuse: refusing ${phaseMs} ms`)
      await sleep(phaseMs)
      bed.sink.mode = 'accept'
      const ids = [...first, ...during]
      await settle(bed, ids)
      const dead = await bed.depth(bed.queue.dlq)
      return { ...tally(ids, bed.sink.byId), notes: `${bed.sink.stalled} stalled + ${bed.sink.refused} refused SMTP exchanges, retried; ${dead} dead-lettered` }
    })
  }
}

/** Raw AMQP publishes that break one message rule each; the consumer must dead-letter them, not crash. */
function poisonMessages(tag: string): { id: string, type: string, body: Buffer, noMessageId?: boolean }[] {
  const good = welcome(0)
  return [
    { id: `poison-json-${tag}`, type: 'mail.welcome.v1', body: Buffer.from('{"to": "broken') },
    { id: `poison-schema-${tag}`, type: 'mail.welcome.v1', body: Buffer.from(JSON.stringify({ to: 'not an address', nickname: 7 })) },
    { id: `poison-type-${tag}`, type: 'mail.unknown.v9', body: Buffer.from(JSON.stringify(good)) },
    { id: `poison-noid-${tag}`, type: 'mail.welcome.v1', body: Buffer.from(JSON.stringify(good)), noMessageId: true },
    { id: `poison-binary-${tag}`, type: 'mail.welcome.v1', body: randomBytes(64) }
  ]
}

export const poison: Fault = {
  name: 'poison',
  fault: 'malformed JSON, wrong schema, unknown type, no messageId, binary garbage between good mails',
  async run({ quick, log }) {
    const rounds = quick ? 2 : 5
    return withMailTestbed('poison', 1, {}, async (bed) => {
      const raw = await amqplib.connect(AMQP_URL)
      try {
        const confirm = await raw.createConfirmChannel()
        const goodIds: string[] = []
        const poisonIds: string[] = []
        for (let round = 0; round < rounds; round++) {
          goodIds.push(...await bed.publish(20, `good${round}`))
          for (const p of poisonMessages(`${bed.ns.tag}-${round}`)) {
            poisonIds.push(p.id)
            const headers = p.noMessageId ? { 'x-poison-id': p.id } : {}
            confirm.publish(bed.ns.names.exchange, p.type, p.body, { persistent: true, type: p.type, contentType: 'application/json', messageId: p.noMessageId ? undefined : p.id, headers })
          }
          await confirm.waitForConfirms()
        }
        log(`poison: ${goodIds.length} good + ${poisonIds.length} poison published`)
        await settle(bed, goodIds)
        // Every poison message must be in the DLQ (by messageId, or by header when it had none).
        const dead = new Map<string, number>()
        await waitUntil(async () => (await bed.depth(bed.queue.dlq)) >= poisonIds.length, 15000)
        for (;;) {
          const msg = await bed.channel.get(bed.queue.dlq, { noAck: true })
          if (!msg) break
          const id = String(msg.properties.messageId || msg.properties.headers?.['x-poison-id'])
          dead.set(id, (dead.get(id) || 0) + 1)
        }
        const good = tally(goodIds, bed.sink.byId)
        const bad: FaultOutcome = tally(poisonIds, dead)
        const stillRunning = bed.procs.every((p) => p.running())
        return {
          accepted: good.accepted + bad.accepted,
          delivered: good.delivered + bad.delivered,
          lost: good.lost + bad.lost + (stillRunning ? 0 : 1),
          duplicated: good.duplicated + bad.duplicated,
          notes: `${good.delivered}/${good.accepted} good mails sent, ${bad.delivered}/${bad.accepted} poison in ${bed.queue.dlq.replace(bed.ns.prefix, '')}; mailer ${stillRunning ? 'kept running' : 'DIED'}`
        }
      } finally {
        await raw.close().catch(() => {})
      }
    })
  }
}
