import Redis from 'ioredis'
import { randomBytes, randomUUID } from 'node:crypto'
import { JobStatusStore, jobStepRank } from '../src'
import { namespaceTag, redisBounds } from '@socialnet/testing'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

describe('JobStatusStore (real Redis)', () => {
  const prefix = `test:jobs:${namespaceTag()}:`
  let redis: Redis
  let store: JobStatusStore

  beforeAll(() => {
    redis = new Redis(REDIS_URL, redisBounds())
    store = new JobStatusStore(redis, { prefix, ttlSeconds: 120 })
  })
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })

  test('a job moves QUEUED -> STARTED -> IN_PROGRESS -> DONE with attempts, times and result', async () => {
    const id = randomUUID()
    const created = await store.create(id, 'log')
    expect(created).toMatchObject({ id, type: 'log', status: 'QUEUED', attempts: 0 })
    expect((await store.started(id, 'log')).doc).toMatchObject({ status: 'STARTED', attempts: 1 })
    expect((await store.inProgress(id, 'log')).doc.status).toBe('IN_PROGRESS')
    const done = await store.done(id, 'log', { rows: 1, list: [] })
    expect(done.applied).toBe(true)
    const doc = await store.get(id)
    expect(doc).toMatchObject({ id, type: 'log', status: 'DONE', attempts: 1, result: { rows: 1, list: [] } })
    expect(doc!.error).toBeUndefined()
    expect(Date.parse(doc!.updatedAt)).toBeGreaterThanOrEqual(Date.parse(doc!.createdAt))
  })

  test('the owner given at create is kept through every change (the api shows a job to its owner only)', async () => {
    const id = randomUUID()
    expect(await store.create(id, 'log', { owner: 'user-1' })).toMatchObject({ id, owner: 'user-1' })
    await store.started(id, 'log')
    await store.done(id, 'log', null)
    expect(await store.get(id)).toMatchObject({ status: 'DONE', owner: 'user-1' })
    const anonymous = randomUUID()
    await store.create(anonymous, 'log')
    expect((await store.get(anonymous))!.owner).toBeUndefined()
  })

  test('the status is kept with a TTL, refreshed on each change', async () => {
    const id = randomUUID()
    await store.create(id, 'email')
    await store.started(id, 'email')
    const ttl = await redis.ttl(`${prefix}status:${id}`)
    expect(ttl).toBeGreaterThan(0)
    expect(ttl).toBeLessThanOrEqual(120)
  })

  test('a finished job never moves again (a redelivered message cannot restart it)', async () => {
    const id = randomUUID()
    await store.create(id, 'callback')
    await store.started(id, 'callback')
    await store.failed(id, 'callback', 'receiver said 410')
    const again = await store.started(id, 'callback')
    expect(again.applied).toBe(false)
    expect(again.doc).toMatchObject({ status: 'FAILED', attempts: 1, error: 'receiver said 410' })
  })

  test('a failed attempt waits as QUEUED with its reason; the next start counts another attempt', async () => {
    const id = randomUUID()
    await store.create(id, 'callback')
    await store.started(id, 'callback')
    expect((await store.retrying(id, 'callback', 'connection refused')).doc).toMatchObject({ status: 'QUEUED', error: 'connection refused' })
    expect((await store.started(id, 'callback')).doc).toMatchObject({ status: 'STARTED', attempts: 2 })
  })

  test('a worker status write for a job the api forgot recreates it', async () => {
    const id = randomUUID()
    const t = await store.started(id, 'log')
    expect(t.doc).toMatchObject({ id, type: 'log', status: 'STARTED', attempts: 1 })
  })

  test('unknown and removed jobs read as undefined', async () => {
    expect(await store.get(randomUUID())).toBeUndefined()
    const id = randomUUID()
    await store.create(id, 'log')
    await store.remove(id)
    expect(await store.get(id)).toBeUndefined()
  })

  test("an owner's list keeps the newest maxListedPerOwner jobs, drops those whose status expired as it meets them (the page stays full), and expires with them", async () => {
    const small = new JobStatusStore(redis, { prefix, ttlSeconds: 120, maxListedPerOwner: 4 })
    const owner = `owner-${randomBytes(4).toString('hex')}`
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      ids.push(randomUUID())
      await small.create(ids[i]!, 'log', { owner, now: new Date(Date.now() + i) })
    }
    // The oldest went when the fifth came.
    expect(await redis.zcard(`${prefix}owner:${owner}`)).toBe(4)
    // Two statuses expire (their hashes are gone); a page of two still holds two jobs, and the index loses the two.
    await redis.del(`${prefix}status:${ids[4]}`, `${prefix}status:${ids[3]}`)
    const page = await small.listByOwner(owner, { limit: 2 })
    expect(page.jobs.map((job) => job.id)).toEqual([ids[2], ids[1]])
    expect(page.nextCursor).toBeNull()
    expect(await redis.zcard(`${prefix}owner:${owner}`)).toBe(2)
    const ttl = await redis.ttl(`${prefix}owner:${owner}`)
    expect(ttl).toBeGreaterThan(100)
    expect(ttl).toBeLessThanOrEqual(120)
  })

  test('an idempotency key is claimed once; later claims see the first value until released', async () => {
    const key = randomBytes(8).toString('hex')
    expect(await store.claimIdempotencyKey(key, 'first')).toBeUndefined()
    expect(await store.claimIdempotencyKey(key, 'second')).toBe('first')
    await store.releaseIdempotencyKey(key)
    expect(await store.claimIdempotencyKey(key, 'third')).toBeUndefined()
  })

  test('every status written is reported once as a job.status event, none for a write a finished job refuses', async () => {
    const events: Array<{ type: string; subject: string; userId?: string; data: Record<string, unknown> }> = []
    const reporting = new JobStatusStore(redis, { prefix, ttlSeconds: 120, events: { emit: (type, event) => events.push({ type, ...event }) } })
    const id = randomUUID()
    await reporting.create(id, 'callback', { owner: 'u-1' })
    await reporting.started(id, 'callback')
    await reporting.retrying(id, 'callback', 'receiver down')
    await reporting.started(id, 'callback')
    await reporting.failed(id, 'callback', 'gave up')
    expect((await reporting.started(id, 'callback')).applied).toBe(false)
    expect(events.map((e) => e.data.status)).toEqual(['QUEUED', 'STARTED', 'QUEUED', 'STARTED', 'FAILED'])
    for (const e of events) expect(e).toMatchObject({ type: 'job.status', subject: `job:${id}`, userId: 'u-1', data: { jobId: id, jobType: 'callback' } })
    expect(events[2]!.data.error).toBe('receiver down')
    expect(events[4]!.data).toMatchObject({ error: 'gave up', attempts: 2, durationMs: expect.any(Number) })
  })

  test('jobStepRank puts the reports of one job in the order they happen, retries and final statuses included', () => {
    const life: Array<[string, number]> = [
      ['QUEUED', 0], ['STARTED', 1], ['IN_PROGRESS', 1], ['QUEUED', 1], ['STARTED', 2], ['IN_PROGRESS', 2], ['QUEUED', 2], ['STARTED', 3], ['DONE', 3]
    ]
    const ranks = life.map(([status, attempts]) => jobStepRank(status, attempts))
    expect([...ranks].sort((a, b) => a - b)).toEqual(ranks)
    expect(new Set(ranks).size).toBe(ranks.length)
    for (const final of ['DONE', 'FAILED', 'CANCELLED']) expect(jobStepRank(final, 0)).toBeGreaterThan(jobStepRank('IN_PROGRESS', 1000))
  })
})
