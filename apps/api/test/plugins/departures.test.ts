import Fastify, { type FastifyInstance } from 'fastify'
import Redis from 'ioredis'
import readiness from '../../src/plugins/readiness'
import redis from '../../src/plugins/redis'
import departures from '../../src/plugins/departures'
import { namespaceTag, redisBounds } from '@socialnet/testing'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const key = `test:departures:${namespaceTag()}:leaving`
const apps: FastifyInstance[] = []
let probe: Redis

/** A listening replica with only what the departure turn needs. */
async function replica(maxWaitMs: number, settleMs: number, idleMs = 60_000): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(readiness)
  await app.register(redis, { redisUrl: REDIS_URL })
  await app.register(departures, { maxWaitMs, settleMs, key, idleMs })
  await app.listen({ port: 0, host: '127.0.0.1' })
  apps.push(app)
  return app
}

/** Resolves to 'left' when the promise settles within `ms`, 'waiting' otherwise. */
async function within(promise: Promise<void>, ms: number): Promise<'left' | 'waiting'> {
  let timer: NodeJS.Timeout | undefined
  const waiting = new Promise<'waiting'>((resolve) => { timer = setTimeout(() => resolve('waiting'), ms) })
  try {
    return await Promise.race([promise.then(() => 'left' as const), waiting])
  } finally {
    clearTimeout(timer)
  }
}

beforeAll(() => { probe = new Redis(REDIS_URL, redisBounds()) })
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()))
  await probe.del(key)
})
afterAll(async () => { await probe.quit() })

test('replicas signalled together leave one at a time: the second waits until a new replica has settled', async () => {
  const a = await replica(20_000, 100)
  const b = await replica(20_000, 100)
  await new Promise((resolve) => setTimeout(resolve, 200)) // both have settled: no turn is held
  expect(await probe.exists(key)).toBe(0)

  expect(await within(a.waitForTurnToLeave(), 1000)).toBe('left')
  const bLeaves = b.waitForTurnToLeave()
  // b keeps serving while a is away...
  expect(await within(bLeaves, 1000)).toBe('waiting')
  // ...until a's successor has listened for the settle time.
  await replica(20_000, 100)
  expect(await within(bLeaves, 3000)).toBe('left')
})

test('a replica that no successor relieves leaves after the longest wait', async () => {
  const a = await replica(600, 100)
  const b = await replica(600, 100)
  await new Promise((resolve) => setTimeout(resolve, 200))
  await a.waitForTurnToLeave()
  const bLeaves = b.waitForTurnToLeave()
  expect(await within(bLeaves, 300)).toBe('waiting')
  expect(await within(bLeaves, 5000)).toBe('left')
})

test('a waiting replica that no request reaches leaves: nobody needs it (nginx stopped first on `down`)', async () => {
  const a = await replica(20_000, 100, 500)
  const b = await replica(20_000, 100, 500)
  await new Promise((resolve) => setTimeout(resolve, 200))
  await a.waitForTurnToLeave()
  const bLeaves = b.waitForTurnToLeave()
  // Requests keep it serving...
  for (let i = 0; i < 8; i++) {
    expect((await b.inject('/anything')).statusCode).toBe(404)
    expect(await within(bLeaves, 150)).toBe('waiting')
  }
  // ...silence lets it go.
  expect(await within(bLeaves, 3000)).toBe('left')
})

test('with a wait of 0 (the default) a replica leaves at once and takes no turn', async () => {
  const a = await replica(0, 100)
  const b = await replica(0, 100)
  expect(await within(a.waitForTurnToLeave(), 500)).toBe('left')
  expect(await within(b.waitForTurnToLeave(), 500)).toBe('left')
  expect(await probe.exists(key)).toBe(0)
})
