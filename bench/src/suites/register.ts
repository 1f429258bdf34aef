'use strict'
/**
 * Registration: how many `POST /v1/users` per second the api completes (201:
 * validate, argon2id hash, user row + verification token + outbox row in one
 * transaction, NOTIFY) next to the floor it is built on: raw argon2id hashes
 * per second with the very function the api uses (apps/api/dist/users/
 * passwords.js, so the parameters cannot drift), same concurrency, same run.
 *
 * argon2 runs on the libuv thread pool (4 threads by default) in both cases,
 * and on this 2-core machine it is the whole cost: the ratio says how much
 * the HTTP, Postgres and outbox work around the hash takes away.
 *
 * Built api as a child process, RATE_LIMIT_RPS=0, own database and AMQP
 * prefix (the outbox relay publishes the welcome mails into a queue no one
 * consumes), all removed afterwards. Every request has a unique email and
 * nickname, so no 409 is measured.
 *
 * `node bench/suites/register.js` runs it alone; bench/run.js calls run(ctx).
 */
const { join } = require('node:path')
const { ROOT, isolatedEnv, processCpuMs, registrationLoad, startApi, row, runIfMain } = require('../harness')

const { hashPassword } = require(join(ROOT, 'apps', 'api', 'dist', 'users', 'passwords.js'))

const PASSWORD = 'correct horse battery staple'
const CONNECTIONS = 8

/** `connections` loops each hashing one password after the other, for durationMs. */
async function rawHashes(connections, durationMs) {
  let count = 0
  const cpu = process.cpuUsage()
  const deadline = Date.now() + durationMs
  const started = Date.now()
  await Promise.all(Array.from({ length: connections }, async () => {
    while (Date.now() < deadline) {
      await hashPassword(PASSWORD)
      count++
    }
  }))
  const used = process.cpuUsage(cpu)
  return { perSecond: count / ((Date.now() - started) / 1000), cpuMsPerHash: (used.user + used.system) / 1000 / count }
}

async function run(ctx = {}) {
  const log = ctx.log || ((m) => process.stderr.write(`[register] ${m}\n`))
  const duration = ctx.quick ? 3 : 8
  const ns = isolatedEnv('register')
  const tag = ns.tag
  let api
  try {
    await hashPassword(PASSWORD) // load the native module and warm the pool outside the measurement
    // Baseline before and after the api run, averaged: the machine's load drifts over a run.
    log(`baseline: raw argon2id, ${CONNECTIONS} concurrent, 2 x ${duration / 2} s around the api run`)
    const before = await rawHashes(CONNECTIONS, (duration / 2) * 1000)

    api = await startApi(ns.env)
    await registrationLoad(api.url, { tag: `${tag}w`, connections: CONNECTIONS, duration: 1, password: PASSWORD }) // warm-up: JIT, pg pool connections
    log(`api: POST /v1/users, ${CONNECTIONS} connections, ${duration} s`)
    const cpuBefore = processCpuMs(api.child.pid)
    const measured = await registrationLoad(api.url, { tag, connections: CONNECTIONS, duration, password: PASSWORD })
    const apiCpuMs = processCpuMs(api.child.pid) - cpuBefore
    const after = await rawHashes(CONNECTIONS, (duration / 2) * 1000)
    const baseline = (before.perSecond + after.perSecond) / 2
    log(`api: ${measured.perSecond.toFixed(1)} registrations/s (${measured.non2xx} non-2xx), raw ${baseline.toFixed(1)} hashes/s`)
    return [row('register', measured.perSecond, 'req/s', 'raw argon2id hashes/s, same parameters', baseline, {
      extra: {
        p50Ms: measured.p50Ms,
        p99Ms: measured.p99Ms,
        non2xx: measured.non2xx,
        errors: measured.errors,
        connections: CONNECTIONS,
        // CPU per operation does not depend on what else the machine runs: api process per 201 vs this process per hash.
        apiCpuMsPerRegistration: Math.round(apiCpuMs / (measured.perSecond * duration)),
        cpuMsPerHash: Math.round((before.cpuMsPerHash + after.cpuMsPerHash) / 2)
      }
    })]
  } finally {
    if (api) await api.stop().catch(() => {})
    await ns.cleanup()
  }
}

module.exports = { run }

runIfMain(module, run)
