/**
 * Async job API: how many jobs per second `POST /v1/jobs` accepts (202s,
 * each only after RabbitMQ confirmed the message) and its p99 latency, next
 * to the floor it is built on: a raw amqplib publish-with-confirms loop with
 * the same concurrency, same exchange, same quorum queue. After a 1 s
 * warm-up of each, rounds alternate raw loop, api, raw loop, api, ...; the
 * queue is purged after each so every round starts on an empty queue.
 *
 * Uses the built api (apps/api/dist) as a child process on 127.0.0.1 with
 * RATE_LIMIT_RPS=0 and the per-user job rates off (JOB_RATE_PER_MINUTE=0),
 * its own AMQP prefix, Redis prefix and database, all removed afterwards.
 * One signed-in user submits every job (job routes need a session). No
 * worker runs: the queue only fills.
 *
 * Then `jobs.list`: `GET /v1/jobs?limit=20` (a page of the same user's
 * jobs) interleaved with `GET /v1/jobs/{id}` (one status), same connections.
 *
 * `node bench/dist/suites/jobs.js` runs it alone; bench/dist/run.js calls run(ctx).
 */
import { randomUUID } from 'node:crypto'
import amqplib from 'amqplib'
import autocannon from 'autocannon'
import { Client } from 'pg'
import { declareTopology, type Topology } from '@socialnet/broker'
import { AMQP_URL, childCpu, interleave, isolatedEnv, medians, ownCpu, percentile, roundsFor, row, runIfMain, signUp, startApi, type Row, type Started, type SuiteContext } from '../harness'
import type { Goal } from '../stats'

/** A job submission costs at most about three raw confirmed publishes. */
const ENQUEUE_GOALS: Goal[] = [{ on: 'ratio', op: '>=', target: 0.3 }]
const DATA = { user: 42, action: 'bench', at: '2026-01-01T00:00:00Z' }
const BODY = JSON.stringify({ type: 'log', data: DATA })

interface Round { value: number, cpuUsPerOp: number, p99Ms: number, count: number }

/**
 * The baseline: `connections` publishers on one confirm channel, each publish
 * awaiting its confirm; CPU per confirm is this process's (the publisher).
 */
async function rawPublishLoop(channel: amqplib.ConfirmChannel, names: Topology, connections: number, durationMs: number): Promise<Round> {
  const latencies: number[] = []
  const deadline = Date.now() + durationMs
  const publishOne = () => new Promise<void>((resolve, reject) => {
    const id = randomUUID()
    const payload = Buffer.from(JSON.stringify({ jobId: id, data: DATA }))
    channel.publish(names.exchange, 'job.log.v1', payload,
      { persistent: true, mandatory: true, messageId: id, type: 'job.log.v1', contentType: 'application/json' },
      (err) => (err ? reject(err) : resolve()))
  })
  const loop = async () => {
    while (Date.now() < deadline) {
      const start = process.hrtime.bigint()
      await publishOne()
      latencies.push(Number(process.hrtime.bigint() - start) / 1e6)
    }
  }
  const started = Date.now()
  const { cpuUs } = await ownCpu(() => Promise.all(Array.from({ length: connections }, loop)))
  const elapsed = (Date.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  return { value: latencies.length / elapsed, cpuUsPerOp: cpuUs / Math.max(1, latencies.length), p99Ms: percentile(latencies, 99), count: latencies.length }
}

/** The api under autocannon; CPU per 202 is the api process's. */
/** A signed-up user whose address counts as verified: log jobs keep data, which only a verified account may (what the welcome mail's link does). */
export async function verifiedUser(api: Started, databaseUrl: string): Promise<{ id: string, authorization: string }> {
  const user = await signUp(api.url)
  const pg = new Client({ connectionString: databaseUrl })
  await pg.connect()
  try {
    await pg.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [user.id])
  } finally {
    await pg.end()
  }
  return user
}

export async function apiLoad(api: Started, authorization: string, connections: number, duration: number): Promise<Round & { non2xx: number, errors: number, p50Ms: number }> {
  const { result, cpuUs } = await childCpu(api.pid, () => autocannon({
    url: `${api.url}/v1/jobs`,
    method: 'POST',
    body: BODY,
    headers: { 'content-type': 'application/json', authorization },
    connections,
    duration
  }))
  const accepted = result['2xx']
  return { value: accepted / duration, cpuUsPerOp: cpuUs / Math.max(1, accepted), p50Ms: result.latency.p50, p99Ms: result.latency.p99, count: accepted, non2xx: result.non2xx, errors: result.errors }
}

/** GETs of one url under autocannon; CPU per 200 is the api process's. */
async function readLoad(api: Started, path: string, authorization: string, connections: number, duration: number): Promise<Round> {
  const { result, cpuUs } = await childCpu(api.pid, () => autocannon({ url: `${api.url}${path}`, headers: { authorization }, connections, duration }))
  const ok = result['2xx']
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`GET ${path}: ${result.non2xx} non-2xx, ${result.errors} errors`)
  return { value: ok / duration, cpuUsPerOp: cpuUs / Math.max(1, ok), p99Ms: result.latency.p99, count: ok }
}

export async function run(ctx: SuiteContext & { durationSec?: number, connections?: number } = {}): Promise<Row[]> {
  const durationSec = ctx.durationSec || Number(process.env.BENCH_JOBS_SECONDS) || (ctx.quick ? 2 : 4)
  const connections = ctx.connections || 32
  const rounds = roundsFor(ctx.quick)
  const log = ctx.log || ((msg: string) => process.stderr.write(`[jobs] ${msg}\n`))
  const ns = isolatedEnv('jobs')
  let admin: amqplib.ChannelModel | undefined
  let publisher: amqplib.ChannelModel | undefined
  let api: Started | undefined
  try {
    admin = await amqplib.connect(AMQP_URL)
    const adminChannel = await admin.createChannel()
    const names = await declareTopology(adminChannel, ns.names)
    const queue = names.queues.jobs.name
    // noDelay like the broker package: the best case raw amqplib can do.
    publisher = await amqplib.connect(AMQP_URL, { noDelay: true })
    const channel = await publisher.createConfirmChannel()
    channel.on('return', () => {})

    // Waits for /ready (broker connected), not /health: no 503 may count against the api.
    const started = api = await startApi({ ...ns.env, OUTBOX_POLL_MS: '600000', JOB_RATE_PER_MINUTE: '0' }, { readyPath: '/ready' })
    const { authorization } = await verifiedUser(started, ns.databaseUrl)
    let queued = 0
    const afterEach = async <T>(r: T): Promise<T> => { await adminChannel.purgeQueue(queue); return r }
    log(`jobs: ${rounds} interleaved rounds of ${durationSec} s: raw amqplib publish+confirm, then POST /v1/jobs, ${connections} concurrent`)
    const got = await interleave(
      async () => afterEach(await rawPublishLoop(channel, names, connections, durationSec * 1000)),
      async () => {
        const r = await apiLoad(started, authorization, connections, durationSec)
        queued += (await adminChannel.checkQueue(queue)).messageCount
        return afterEach(r)
      },
      {
        rounds,
        log: (m) => log(`jobs.enqueue: ${m}`),
        warmUp: {
          baseline: async () => afterEach(await rawPublishLoop(channel, names, connections, 1000)),
          subject: async () => afterEach(await apiLoad(started, authorization, connections, 1))
        }
      })
    const accepted = got.subject.reduce((sum, r) => sum + r.count, 0)
    log(`jobs: ${accepted} x 202 over the rounds, ${queued} messages reached the queue`)

    // The user now has thousands of jobs (the list keeps the newest 1,000): a page of 20 against one status.
    const page = await (await fetch(`${started.url}/v1/jobs?limit=20`, { headers: { authorization } })).json() as { jobs: Array<{ id: string }> }
    const one = `/v1/jobs/${page.jobs[0]!.id}`
    log(`jobs.list: ${rounds} interleaved rounds of ${durationSec} s: GET ${one}, then GET /v1/jobs?limit=20, ${connections} concurrent`)
    const listed = await interleave(
      async () => readLoad(started, one, authorization, connections, durationSec),
      async () => readLoad(started, '/v1/jobs?limit=20', authorization, connections, durationSec),
      {
        rounds,
        log: (m) => log(`jobs.list: ${m}`),
        warmUp: {
          baseline: async () => readLoad(started, one, authorization, connections, 1),
          subject: async () => readLoad(started, '/v1/jobs?limit=20', authorization, connections, 1)
        }
      })
    return [row('jobs.list', 'req/s', 'GET /v1/jobs/{id} (one status)', listed.summary, {
      notes: 'a page of 20 statuses (one sorted-set read + one pipelined read) vs one; CPU: api process per 200',
      extra: { ...medians(listed.subject, ['p99Ms']), baselineP99Ms: medians(listed.baseline, ['p99Ms'], 2).p99Ms, connections, durationSec }
    }), row('jobs.enqueue', 'req/s', 'raw amqplib publish+confirm loop', got.summary, {
      goals: ENQUEUE_GOALS,
      notes: 'CPU: api process per 202 vs the raw publisher (this process) per confirm',
      extra: {
        ...medians(got.subject, ['p50Ms', 'p99Ms', 'non2xx', 'errors']),
        baselineP99Ms: medians(got.baseline, ['p99Ms'], 2).p99Ms,
        connections,
        durationSec,
        accepted,
        messagesQueued: queued
      }
    })]
  } finally {
    if (api) await api.stop().catch(() => {})
    if (publisher) await publisher.close().catch(() => {})
    if (admin) await admin.close().catch(() => {})
    await ns.cleanup()
  }
}

runIfMain(module, run)
