'use strict'
/**
 * Async job API: how many jobs per second `POST /v1/jobs` accepts (202s,
 * each only after RabbitMQ confirmed the message) and its p99 latency, next
 * to the floor it is built on: a raw amqplib publish-with-confirms loop with
 * the same concurrency, same exchange, same quorum queue, in the same run.
 *
 * Uses the built api (apps/api/dist) as a child process on 127.0.0.1 with
 * RATE_LIMIT_RPS=0 and the per-user job rates off (JOB_RATE_PER_MINUTE=0),
 * its own AMQP prefix, Redis prefix and database, all removed afterwards.
 * One signed-in user submits every job (job routes need a session). No
 * worker runs: the queue only fills.
 *
 * `node bench/suites/jobs.js` runs it alone; bench/run.js calls run(ctx).
 */
const { randomUUID } = require('node:crypto')
const autocannon = require('autocannon')
const amqplib = require('amqplib')
const { declareTopology } = require('@socialnet/broker')
const { AMQP_URL, isolatedEnv, percentile, startApi, signUp, runIfMain } = require('../harness')

const BODY = JSON.stringify({ type: 'log', data: { user: 42, action: 'bench', at: '2026-01-01T00:00:00Z' } })

/** The baseline: `connections` publishers in one process, each publish awaiting its confirm. */
async function rawPublishLoop(names, connections, durationMs) {
  // noDelay like the broker package: the best case raw amqplib can do.
  const conn = await amqplib.connect(AMQP_URL, { noDelay: true })
  const channel = await conn.createConfirmChannel()
  channel.on('return', () => {})
  const latencies = []
  const deadline = Date.now() + durationMs
  const publishOne = () => new Promise((resolve, reject) => {
    const id = randomUUID()
    const payload = Buffer.from(JSON.stringify({ jobId: id, data: JSON.parse(BODY).data }))
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
  try {
    await Promise.all(Array.from({ length: connections }, loop))
  } finally {
    await conn.close().catch(() => {})
  }
  const elapsed = (Date.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  return { perSecond: latencies.length / elapsed, p99Ms: percentile(latencies, 99), count: latencies.length }
}

/** @param {{ durationSec?: number, connections?: number, log?: (msg: string) => void }} ctx */
async function run(ctx = {}) {
  const durationSec = ctx.durationSec || Number(process.env.BENCH_JOBS_SECONDS) || 10
  const connections = ctx.connections || 32
  const log = ctx.log || ((msg) => process.stderr.write(`[jobs] ${msg}\n`))
  const ns = isolatedEnv('jobs')
  let admin
  let api
  try {
    admin = await amqplib.connect(AMQP_URL)
    const adminChannel = await admin.createChannel()
    const names = await declareTopology(adminChannel, ns.names)
    log(`baseline: raw amqplib publish+confirm, ${connections} concurrent, ${durationSec}s`)
    const baseline = await rawPublishLoop(names, connections, durationSec * 1000)
    await adminChannel.purgeQueue(names.queues.jobs.name)

    // Waits for /ready (broker connected), not /health: no 503 may count against the api.
    api = await startApi({ ...ns.env, OUTBOX_POLL_MS: '600000', JOB_RATE_PER_MINUTE: '0' }, { readyPath: '/ready' })
    const { authorization } = await signUp(api.url)
    log(`api: POST /v1/jobs with autocannon, ${connections} connections, ${durationSec}s`)
    const result = await autocannon({
      url: `${api.url}/v1/jobs`,
      method: 'POST',
      body: BODY,
      headers: { 'content-type': 'application/json', authorization },
      connections,
      duration: durationSec
    })
    const accepted = result['2xx']
    const value = accepted / durationSec
    const queued = (await adminChannel.checkQueue(names.queues.jobs.name)).messageCount
    log(`api: ${accepted} x 202 (${result.non2xx} other), ${queued} messages in the queue; baseline ${baseline.count} confirms`)
    return [{
      name: 'jobs.enqueue',
      value: Math.round(value),
      unit: 'req/s',
      baseline: 'raw amqplib publish+confirm loop',
      baselineValue: Math.round(baseline.perSecond),
      ratio: Number((value / baseline.perSecond).toFixed(3)),
      extra: {
        p99Ms: result.latency.p99,
        p50Ms: result.latency.p50,
        baselineP99Ms: Number(baseline.p99Ms.toFixed(2)),
        non2xx: result.non2xx,
        errors: result.errors,
        connections,
        durationSec,
        messagesQueued: queued
      }
    }]
  } finally {
    if (api) await api.stop().catch(() => {})
    if (admin) await admin.close().catch(() => {})
    await ns.cleanup()
  }
}

module.exports = { run }

runIfMain(module, run)
