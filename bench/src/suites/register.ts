/**
 * Registration: how many `POST /v1/users` per second the api completes (201:
 * validate, argon2id hash, user row + verification token + outbox row in one
 * transaction, NOTIFY) next to the floor it is built on: raw argon2id hashes
 * per second with the very function the api uses (apps/api/dist/users/
 * passwords.js, so the parameters cannot drift), same concurrency. After a
 * 1 s warm-up of each, rounds alternate raw hashes, api, raw hashes, api, ...
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
 * `node bench/dist/suites/register.js` runs it alone; bench/dist/run.js calls run(ctx).
 */
import { hashPassword } from '@socialnet/api/dist/users/passwords.js'
import { childCpu, interleave, isolatedEnv, medians, ownCpu, registrationLoad, roundsFor, row, runIfMain, startApi, type Row, type Started, type SuiteContext } from '../harness'
import type { Goal, Sample } from '../stats'

/** A sign-up runs at argon2's pace: the HTTP, the transaction and the outbox add at most 30 % to the hash. */
const REGISTER_GOALS: Goal[] = [{ on: 'ratio', op: '>=', target: 0.8 }, { on: 'cpuRatio', op: '<=', target: 1.3 }]
const PASSWORD = 'correct horse battery staple'
const CONNECTIONS = 8

/** `connections` loops each hashing one password after the other, for durationMs; CPU per hash is this process's. */
async function rawHashes(connections: number, durationMs: number): Promise<Sample> {
  let count = 0
  const deadline = Date.now() + durationMs
  const started = Date.now()
  const { cpuUs } = await ownCpu(() => Promise.all(Array.from({ length: connections }, async () => {
    while (Date.now() < deadline) {
      await hashPassword(PASSWORD)
      count++
    }
  })))
  return { value: count / ((Date.now() - started) / 1000), cpuUsPerOp: cpuUs / Math.max(1, count) }
}

export async function run(ctx: SuiteContext = {}): Promise<Row[]> {
  const log = ctx.log || ((m: string) => process.stderr.write(`[register] ${m}\n`))
  const duration = ctx.quick ? 2 : 4
  const rounds = roundsFor(ctx.quick)
  const ns = isolatedEnv('register')
  let api: Started | undefined
  try {
    const started = api = await startApi(ns.env)
    let n = 0
    const apiRound = async (seconds: number) => {
      const { result, cpuUs } = await childCpu(started.pid, () => registrationLoad(started.url, { tag: `${ns.tag}x${n++}`, connections: CONNECTIONS, duration: seconds, password: PASSWORD }))
      return { ...result, cpuUsPerOp: cpuUs / Math.max(1, result.count) }
    }
    log(`register: ${rounds} interleaved rounds of ${duration} s: raw argon2id, then POST /v1/users, ${CONNECTIONS} concurrent`)
    const got = await interleave(() => rawHashes(CONNECTIONS, duration * 1000), () => apiRound(duration), {
      rounds,
      log: (m) => log(`register: ${m}`),
      // Loads argon2's native module here, JIT and pg pool connections in the api.
      warmUp: { baseline: () => rawHashes(CONNECTIONS, 1000), subject: () => apiRound(1) }
    })
    return [row('register', 'req/s', 'raw argon2id hashes/s, same parameters', got.summary, {
      goals: REGISTER_GOALS,
      notes: 'CPU: api process per 201 vs this process per hash',
      extra: { ...medians(got.subject, ['p50Ms', 'p99Ms', 'non2xx', 'errors']), connections: CONNECTIONS }
    })]
  } finally {
    if (api) await api.stop().catch(() => {})
    await ns.cleanup()
  }
}

runIfMain(module, run)
