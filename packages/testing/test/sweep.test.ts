import { randomBytes } from 'node:crypto'
import type Redis from 'ioredis'
import { amqpVhost } from '../src/rabbitmq'
import { STALE_AFTER_MS, connectRedis, deleteByPrefix, dropDatabase, isolatedEnv, management, namespaceTag, sweepStaleNamespaces, withPgAdmin, type SweepResult } from '../src'

const vhost = amqpVhost()
const HOUR = 60 * 60 * 1000

/** What a test run leaves when it is killed before its cleanup: a queue of each kind, an exchange, a database, a key. */
interface Leftover { queues: string[], exchange: string, database: string, key: string }

async function leaveBehind(prefix: string, redisPrefix: string, database: string, redis: Redis): Promise<Leftover> {
  const left = { queues: [`${prefix}mail`, `${prefix}jobs`], exchange: `${prefix}events`, database, key: `${redisPrefix}auth:x` }
  await management('PUT', `/api/queues/${vhost}/${encodeURIComponent(left.queues[0]!)}`, { durable: true })
  await management('PUT', `/api/queues/${vhost}/${encodeURIComponent(left.queues[1]!)}`, { durable: true, arguments: { 'x-queue-type': 'quorum' } })
  await management('PUT', `/api/exchanges/${vhost}/${encodeURIComponent(left.exchange)}`, { type: 'topic', durable: true })
  await withPgAdmin((admin) => admin.query(`CREATE DATABASE "${database}"`))
  await redis.set(left.key, '1')
  return left
}

async function present(left: Leftover, redis: Redis): Promise<string[]> {
  const queues = (await management('GET', `/api/queues/${vhost}?columns=name`) as Array<{ name: string }>).map((q) => q.name)
  const exchanges = (await management('GET', `/api/exchanges/${vhost}?columns=name`) as Array<{ name: string }>).map((e) => e.name)
  const { rows } = await withPgAdmin((admin) => admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [left.database]))
  return [
    ...left.queues.filter((name) => queues.includes(name)),
    ...(exchanges.includes(left.exchange) ? [left.exchange] : []),
    ...(rows.length > 0 ? [left.database] : []),
    ...(await redis.exists(left.key) ? [left.key] : [])
  ]
}

const all = (left: Leftover): string[] => [...left.queues, left.exchange, left.database, left.key]

describe('sweeping the test namespaces earlier runs left behind', () => {
  let redis: Redis
  const cleanups: Array<() => Promise<void>> = []
  let old: Leftover, young: Leftover, almostOld: Leftover, handMade: Leftover, untimed: Leftover, bench: Leftover
  let swept: SweepResult

  beforeAll(async () => {
    redis = await connectRedis()
    const namespace = (ns: ReturnType<typeof isolatedEnv>): Promise<Leftover> => {
      cleanups.push(() => ns.cleanup())
      return leaveBehind(ns.prefix, ns.redisPrefix, new URL(ns.databaseUrl).pathname.slice(1), redis)
    }
    old = await namespace(isolatedEnv('sweep', { createdAt: Date.now() - STALE_AFTER_MS - HOUR }))
    almostOld = await namespace(isolatedEnv('sweep', { createdAt: Date.now() - STALE_AFTER_MS + HOUR }))
    young = await namespace(isolatedEnv('sweep'))
    // The shapes hand-made namespaces take (the broker's and mailer's tests): the same tag, other separators.
    const tag = namespaceTag(Date.now() - STALE_AFTER_MS - HOUR)
    handMade = await leaveBehind(`test-${tag}.`, `test-pace-${tag}.`, `socialnet_test_bounces_server_${tag}`, redis)
    cleanups.push(() => cleanUp(handMade, `test-${tag}.`))
    // Another scope's namespace, however old: a benchmark's, not ours to remove.
    bench = await namespace(isolatedEnv('sweep', { scope: 'bench', createdAt: Date.now() - 7 * STALE_AFTER_MS }))
    // A tag from before tags carried a time, in use right now: its age cannot be read from its name.
    const hex = randomBytes(4).toString('hex')
    untimed = await leaveBehind(`test.sweep.${hex}.`, `test:sweep:${hex}:`, `socialnet_test_sweep_${hex}`, redis)
    cleanups.push(() => cleanUp(untimed, `test.sweep.${hex}.`))
    swept = await sweepStaleNamespaces()
  }, 180_000) // a database created per namespace: seconds each on a busy 2-core machine

  async function cleanUp(left: Leftover, prefix: string): Promise<void> {
    await deleteByPrefix(prefix)
    await dropDatabase(left.database)
    await redis.del(left.key)
  }

  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup()
    redis.disconnect()
  }, 180_000)

  it('removes a namespace made over a day ago: its queues (quorum too), exchanges, database and Redis keys', async () => {
    expect(await present(old, redis)).toEqual([])
    expect(await present(handMade, redis)).toEqual([])
    expect(swept.queues).toEqual(expect.arrayContaining(old.queues))
    expect(swept.exchanges).toContain(old.exchange)
    expect(swept.databases).toContain(old.database)
  })

  it('keeps namespaces younger than a day, which another run may be using', async () => {
    expect(await present(young, redis)).toEqual(all(young))
    expect(await present(almostOld, redis)).toEqual(all(almostOld))
  })

  it("keeps another scope's namespace and an old-style tag whose services say it is in recent use", async () => {
    expect(await present(bench, redis)).toEqual(all(bench))
    expect(await present(untimed, redis)).toEqual(all(untimed))
  })

  it('lists without removing in a dry run', async () => {
    const ns = isolatedEnv('sweep', { createdAt: Date.now() - STALE_AFTER_MS - HOUR })
    cleanups.push(() => ns.cleanup())
    const left = await leaveBehind(ns.prefix, ns.redisPrefix, new URL(ns.databaseUrl).pathname.slice(1), redis)
    const listed = await sweepStaleNamespaces({ dryRun: true })
    expect(listed.queues).toEqual(expect.arrayContaining(left.queues))
    expect(listed.databases).toContain(left.database)
    expect(await present(left, redis)).toEqual(all(left))
  }, 120_000)
})
