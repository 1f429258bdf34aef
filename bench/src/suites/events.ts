/**
 * Event fan-out (`events.fanout`): 100 concurrent SSE clients on
 * `GET /v1/admin/events` of one api while registrations flow. Every
 * registration makes a `user.registered` and an `outbox.published` event
 * (api -> RabbitMQ -> collector -> Redis Stream -> the replica's one XREAD
 * loop -> 100 sockets). Reported: events/s delivered to all clients together,
 * next to the ideal (every event stored in the stream during the window,
 * times the clients: the ratio is the share actually delivered), the p50/p99
 * from an event's `at` (when the step happened) to its receipt by a client,
 * and the api's RSS before the clients connected and after the run.
 *
 * The baseline is derived from the same window, not measured beside it, so
 * there is nothing to interleave: the rounds are consecutive windows
 * (registrations, then 1 s for the last events in flight), each its own
 * ratio, and the row reports their median and spread.
 *
 * Built api as a child process, own database, AMQP prefix and Redis keys,
 * removed afterwards; one admin user holds all the streams
 * (EVENTS_STREAMS_PER_USER=100).
 *
 * `node bench/dist/suites/events.js` runs it alone; bench/dist/run.js calls run(ctx).
 */
import { readFileSync } from 'node:fs'
import { request, type ClientRequest } from 'node:http'
import Redis from 'ioredis'
import { Client } from 'pg'
import { REDIS_URL, childCpu, isolatedEnv, percentile, registrationLoad, roundsFor, row, runIfMain, signUp, startApi, type Row, type Started, type SuiteContext } from '../harness'
import { summarize, type Sample } from '../stats'

const CLIENTS = 100
const REGISTER_CONNECTIONS = 4

interface Stats { measuring: boolean, delivered: number, ids: Set<string>, latencies: number[], closed: number }

/** Resident set size of a process in MB (Linux /proc). */
function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match ? Math.round(Number(match[1]) / 1024) : NaN
}

/** One SSE client: counts events and records `at` -> receipt latency of each. */
function openStream(url: string, authorization: string, stats: Stats): Promise<ClientRequest> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/admin/events`, { headers: { authorization, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream refused: ${res.statusCode}`))
      res.setEncoding('utf8')
      let buffer = ''
      res.on('data', (chunk: string) => {
        const now = Date.now()
        buffer += chunk
        let end
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = /^data: (.*)$/m.exec(frame)?.[1]
          const id = /^id: (.*)$/m.exec(frame)?.[1]
          if (data === undefined || id === undefined) continue // comments, queue.stats (no id)
          const event = JSON.parse(data) as { at: string }
          if (stats.measuring) {
            stats.delivered++
            stats.ids.add(id)
            stats.latencies.push(now - Date.parse(event.at))
          }
        }
      })
      res.on('close', () => { stats.closed++ })
      resolve(req)
    })
    req.on('error', reject)
    req.end()
  })
}

export async function run(ctx: SuiteContext = {}): Promise<Row[]> {
  const log = ctx.log || ((m: string) => process.stderr.write(`[events] ${m}\n`))
  const duration = ctx.quick ? 2 : 4
  const rounds = roundsFor(ctx.quick)
  const ns = isolatedEnv('events')
  const streams: ClientRequest[] = []
  let api: Started | undefined
  let redis: Redis | undefined
  try {
    const app = api = await startApi({ ...ns.env, EVENTS_STREAMS_PER_USER: '100', EVENTS_STREAMS_PER_IP: '1000', EVENTS_MAX_STREAMS: '1000' })
    const admin = await signUp(app.url)
    const pg = new Client({ connectionString: ns.databaseUrl })
    await pg.connect()
    await pg.query("UPDATE users SET role = 'admin' WHERE id = $1", [admin.id])
    await pg.end()
    await registrationLoad(app.url, { tag: `${ns.tag}w`, connections: REGISTER_CONNECTIONS, duration: 1 }) // warm-up: JIT, pools, the event path end to end

    const rssBefore = rssMb(app.pid)
    const stats: Stats = { measuring: false, delivered: 0, ids: new Set(), latencies: [], closed: 0 }
    for (let i = 0; i < CLIENTS; i++) streams.push(await openStream(app.url, admin.authorization, stats))
    await new Promise((resolve) => setTimeout(resolve, 1500)) // let the warm-up's events pass
    log(`events: ${CLIENTS} SSE clients on /v1/admin/events, ${rounds} windows of registrations (${REGISTER_CONNECTIONS} connections, ${duration} s)`)
    redis = new Redis(REDIS_URL)
    const streamKey = `${ns.env.EVENTS_REDIS_PREFIX}stream`
    const delivered: Sample[] = []
    const ideal: Sample[] = []
    let stored = 0
    let registrations = 0
    for (let i = 0; i < rounds; i++) {
      const lengthBefore = await redis.xlen(streamKey)
      const deliveredBefore = stats.delivered
      stats.measuring = true
      const started = Date.now()
      const { result: load, cpuUs } = await childCpu(app.pid, async () => {
        const r = await registrationLoad(app.url, { tag: `${ns.tag}x${i}`, connections: REGISTER_CONNECTIONS, duration })
        await new Promise((resolve) => setTimeout(resolve, 1000)) // the last events in flight
        return r
      })
      stats.measuring = false
      const seconds = (Date.now() - started) / 1000
      // Far below EVENTS_STREAM_MAX_LEN and inside the 10-minute window: nothing was trimmed.
      const windowStored = (await redis.xlen(streamKey)) - lengthBefore
      const windowDelivered = stats.delivered - deliveredBefore
      stored += windowStored
      registrations += load.count
      // The api's CPU covers registrations and fan-out alike: per delivered event it is an upper bound.
      delivered.push({ value: windowDelivered / seconds, cpuUsPerOp: windowDelivered ? cpuUs / windowDelivered : NaN })
      ideal.push({ value: (windowStored * CLIENTS) / seconds })
      log(`events: window ${i + 1}/${rounds}: ${windowDelivered} of ${windowStored * CLIENTS} events delivered (${load.count} registrations)`)
    }
    const rssAfter = rssMb(app.pid)
    const sorted = stats.latencies.sort((a, b) => a - b)
    return [row('events.fanout', 'events/s', `every stored event x ${CLIENTS} clients`, summarize(ideal, delivered), {
      notes: 'baseline derived from the same window, not interleavable: rounds are consecutive windows; CPU: api process per delivered event (registrations included)',
      extra: {
        clients: CLIENTS,
        eventsStored: stored,
        eventsSeen: stats.ids.size,
        registrations,
        p50Ms: percentile(sorted, 50),
        p99Ms: percentile(sorted, 99),
        rssBeforeMb: rssBefore,
        rssAfterMb: rssAfter,
        clientsClosed: stats.closed
      }
    })]
  } finally {
    for (const req of streams) req.destroy()
    if (redis) await redis.quit().catch(() => {})
    if (api) await api.stop().catch(() => {})
    await ns.cleanup()
  }
}

runIfMain(module, run)
