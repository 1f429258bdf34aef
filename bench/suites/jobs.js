'use strict'
/**
 * Async job API: how many jobs per second `POST /v1/jobs` accepts (202s,
 * each only after RabbitMQ confirmed the message) and its p99 latency, next
 * to the floor it is built on: a raw amqplib publish-with-confirms loop with
 * the same concurrency, same exchange, same quorum queue, in the same run.
 *
 * Uses the built api (apps/api/dist) as a child process on 127.0.0.1 with
 * RATE_LIMIT_RPS=0 and its own AMQP prefix, Redis prefix and database, all
 * removed afterwards. No worker runs: the queue only fills.
 *
 * `node bench/suites/jobs.js` runs it alone; bench/run.js calls run(ctx).
 */
const { spawn } = require('node:child_process')
const { createServer } = require('node:net')
const { randomBytes, randomUUID } = require('node:crypto')
const { join } = require('node:path')
const { mkdtempSync, rmSync } = require('node:fs')
const { tmpdir } = require('node:os')
const autocannon = require('autocannon')
const amqplib = require('amqplib')
const Redis = require('ioredis')
const { Client } = require('pg')
const { topology, declareTopology, deleteTopology } = require('@socialnet/broker')
const { profileFlags } = require('../harness')

const ROOT = join(__dirname, '..', '..')
const AMQP_URL = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672'
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const PG_ADMIN_URL = process.env.BENCH_PG_ADMIN_URL || 'postgres://postgres@127.0.0.1:5432/postgres'

const BODY = JSON.stringify({ type: 'log', data: { user: 42, action: 'bench', at: '2026-01-01T00:00:00Z' } })

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)) })
  })
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

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
  await Promise.all(Array.from({ length: connections }, loop))
  const elapsed = (Date.now() - started) / 1000
  await conn.close()
  latencies.sort((a, b) => a - b)
  return { perSecond: latencies.length / elapsed, p99Ms: percentile(latencies, 99), count: latencies.length }
}

async function startApi(env) {
  const child = spawn(process.execPath, [...profileFlags(), join(ROOT, 'apps', 'api', 'dist', 'server.js')], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const url = `http://127.0.0.1:${env.PORT}`
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`api exited: ${stderr}`)
    const ready = await fetch(`${url}/ready`).then((r) => r.status === 200, () => false)
    if (ready) return { child, url, exited }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  child.kill('SIGKILL')
  throw new Error(`api not ready: ${stderr}`)
}

/** @param {{ durationSec?: number, connections?: number, log?: (msg: string) => void }} ctx */
async function run(ctx = {}) {
  const durationSec = ctx.durationSec || Number(process.env.BENCH_JOBS_SECONDS) || 10
  const connections = ctx.connections || 32
  const log = ctx.log || ((msg) => process.stderr.write(`[jobs] ${msg}\n`))
  const tag = randomBytes(4).toString('hex')
  const prefix = `bench.${tag}.`
  const redisPrefix = `bench:jobs:${tag}:`
  const dbUrl = new URL(PG_ADMIN_URL)
  dbUrl.pathname = `/socialnet_bench_jobs_${tag}`
  const dir = mkdtempSync(join(tmpdir(), 'socialnet-bench-jobs-'))

  const admin = await amqplib.connect(AMQP_URL)
  const adminChannel = await admin.createChannel()
  const names = await declareTopology(adminChannel, topology(prefix))
  let api
  try {
    log(`baseline: raw amqplib publish+confirm, ${connections} concurrent, ${durationSec}s`)
    const baseline = await rawPublishLoop(names, connections, durationSec * 1000)
    await adminChannel.purgeQueue(names.queues.jobs.name)

    api = await startApi({
      HOST: '127.0.0.1', PORT: String(await freePort()), RATE_LIMIT_RPS: '0', LOG_LEVEL: 'warn',
      AMQP_PREFIX: prefix, JOBS_REDIS_PREFIX: redisPrefix, DATABASE_URL: dbUrl.toString(),
      KV_LOG_PATH: join(dir, 'kv.log'), OUTBOX_POLL_MS: '600000'
    })
    log(`api: POST /v1/jobs with autocannon, ${connections} connections, ${durationSec}s`)
    const result = await autocannon({
      url: `${api.url}/v1/jobs`, method: 'POST', body: BODY,
      headers: { 'content-type': 'application/json' },
      connections, duration: durationSec
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
    if (api) {
      api.child.kill('SIGTERM')
      await api.exited
    }
    await deleteTopology(adminChannel, names).catch(() => {})
    await admin.close().catch(() => {})
    const redis = new Redis(REDIS_URL)
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.unlink(...keys)
      cursor = next
    } while (cursor !== '0')
    await redis.quit()
    const pg = new Client({ connectionString: PG_ADMIN_URL })
    await pg.connect()
    await pg.query(`DROP DATABASE IF EXISTS "${dbUrl.pathname.slice(1)}" WITH (FORCE)`).catch(() => {})
    await pg.end()
    rmSync(dir, { recursive: true, force: true })
  }
}

module.exports = { run }

if (require.main === module) {
  run().then((rows) => console.log(JSON.stringify(rows, null, 2)), (err) => { console.error(err); process.exit(1) })
}
