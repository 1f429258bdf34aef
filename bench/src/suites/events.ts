'use strict'
/**
 * Event fan-out (`events.fanout`): 100 concurrent SSE clients on
 * `GET /v1/admin/events` of one api while registrations flow for ~10 s.
 * Every registration makes a `user.registered` and an `outbox.published`
 * event (api -> RabbitMQ -> collector -> Redis Stream -> the replica's one
 * XREAD loop -> 100 sockets). Reported: events/s delivered to all clients
 * together, next to the ideal (every event stored in the stream during the
 * run, times the clients: the ratio is the share actually delivered), the
 * p50/p99 from an event's `at` (when the step happened) to its receipt by a
 * client, and the api's RSS before the clients connected and after the run.
 *
 * Built api as a child process, own database, AMQP prefix and Redis keys,
 * removed afterwards; one admin user holds all the streams
 * (EVENTS_STREAMS_PER_USER=100).
 *
 * `node bench/suites/events.js` runs it alone; bench/run.js calls run(ctx).
 */
const { request } = require('node:http')
const { readFileSync } = require('node:fs')
const Redis = require('ioredis')
const { Client } = require('pg')
const { REDIS_URL, isolatedEnv, percentile, registrationLoad, startApi, signUp, row, runIfMain } = require('../harness')

const CLIENTS = 100
const REGISTER_CONNECTIONS = 4

/** Resident set size of a process in MB (Linux /proc). */
function rssMb(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match ? Math.round(Number(match[1]) / 1024) : NaN
}

/** One SSE client: counts events and records `at` -> receipt latency of each. */
function openStream(url, authorization, stats) {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/admin/events`, { headers: { authorization, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream refused: ${res.statusCode}`))
      res.setEncoding('utf8')
      let buffer = ''
      res.on('data', (chunk) => {
        const now = Date.now()
        buffer += chunk
        let end
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = /^data: (.*)$/m.exec(frame)
          const id = /^id: (.*)$/m.exec(frame)
          if (!data || !id) continue // comments, queue.stats (no id)
          const event = JSON.parse(data[1])
          if (stats.measuring) {
            stats.delivered++
            stats.ids.add(id[1])
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

async function run(ctx = {}) {
  const log = ctx.log || ((m) => process.stderr.write(`[events] ${m}\n`))
  const duration = ctx.quick ? 4 : 10
  const ns = isolatedEnv('events')
  const streams = []
  let api
  try {
    api = await startApi({ ...ns.env, EVENTS_STREAMS_PER_USER: '100', EVENTS_MAX_STREAMS: '1000' })
    const admin = await signUp(api.url)
    const pg = new Client({ connectionString: ns.databaseUrl })
    await pg.connect()
    await pg.query("UPDATE users SET role = 'admin' WHERE id = $1", [admin.id])
    await pg.end()
    await registrationLoad(api.url, { tag: `${ns.tag}w`, connections: REGISTER_CONNECTIONS, duration: 1 }) // warm-up: JIT, pools, the event path end to end

    const rssBefore = rssMb(api.child.pid)
    const stats = { measuring: false, delivered: 0, ids: new Set(), latencies: [], closed: 0 }
    for (let i = 0; i < CLIENTS; i++) streams.push(await openStream(api.url, admin.authorization, stats))
    await new Promise((resolve) => setTimeout(resolve, 1500)) // let the warm-up's events pass
    log(`${CLIENTS} SSE clients on /v1/admin/events, registrations with ${REGISTER_CONNECTIONS} connections for ${duration} s`)
    const redis = new Redis(REDIS_URL)
    const streamKey = `${ns.env.EVENTS_REDIS_PREFIX}stream`
    const lengthBefore = await redis.xlen(streamKey)
    stats.measuring = true
    const started = Date.now()
    const load = await registrationLoad(api.url, { tag: ns.tag, connections: REGISTER_CONNECTIONS, duration })
    await new Promise((resolve) => setTimeout(resolve, 1000)) // the last events in flight
    stats.measuring = false
    const seconds = (Date.now() - started) / 1000
    // Far below EVENTS_STREAM_MAX_LEN and inside the 10-minute window: nothing was trimmed.
    const stored = (await redis.xlen(streamKey)) - lengthBefore
    await redis.quit()
    const rssAfter = rssMb(api.child.pid)

    const sorted = stats.latencies.sort((a, b) => a - b)
    const perSecond = stats.delivered / seconds
    const ideal = (stored * CLIENTS) / seconds
    log(`${perSecond.toFixed(0)} events/s delivered (ideal ${ideal.toFixed(0)}), p99 ${percentile(sorted, 99)} ms, RSS ${rssBefore} -> ${rssAfter} MB`)
    return [row('events.fanout', perSecond, 'events/s', `every stored event x ${CLIENTS} clients`, ideal, {
      extra: {
        clients: CLIENTS,
        eventsStored: stored,
        eventsSeen: stats.ids.size,
        registrationsPerSecond: Math.round(load.perSecond * 10) / 10,
        p50Ms: percentile(sorted, 50),
        p99Ms: percentile(sorted, 99),
        rssBeforeMb: rssBefore,
        rssAfterMb: rssAfter,
        clientsClosed: stats.closed
      }
    })]
  } finally {
    for (const req of streams) req.destroy()
    if (api) await api.stop().catch(() => {})
    await ns.cleanup()
  }
}

module.exports = { run }

runIfMain(module, run)
