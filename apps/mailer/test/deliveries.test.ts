import type { Pool } from 'pg'
import pino from 'pino'
import { ensureDatabase, migrate, openDatabase } from '@socialnet/db'
import { databaseUrl, dropDatabase, namespaceTag } from '@socialnet/testing'
import { DeliveryLog } from '../src/deliveries'

describe('DeliveryLog (the dedupe record, batched)', () => {
  const url = databaseUrl(`socialnet_test_deliveries_${namespaceTag()}`)
  const log = pino({ level: 'silent' })
  let pool: Pool
  let statements = 0

  beforeAll(async () => {
    await ensureDatabase(url, log)
    pool = await openDatabase(url, log)
    await migrate(pool, log)
    // Counts what reaches Postgres; the pool itself is the real one.
    const query = pool.query.bind(pool) as (...args: unknown[]) => unknown
    ;(pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      statements += 1
      return query(...args)
    }
  })

  afterAll(async () => {
    await pool.end()
    await dropDatabase(url)
  })

  it('claims many messages at once in a few statements, and each claim is its own', async () => {
    const deliveries = new DeliveryLog(pool, 60_000)
    const before = statements
    const ids = Array.from({ length: 50 }, (_, i) => `many-${i}`)
    const claims = await Promise.all(ids.map((id) => deliveries.claim(id, 'mail.welcome.v1', `${id}@example.com`)))
    expect(claims.every((c) => c.state === 'claimed')).toBe(true)
    expect(new Set(claims.map((c) => (c.state === 'claimed' ? c.owner : ''))).size).toBe(50)
    // The first call runs alone; the other 49 wait for it and go together.
    expect(statements - before).toBeLessThanOrEqual(3)
    const marked = statements
    await Promise.all(ids.map((id) => deliveries.markSent(id, '250 ok')))
    expect(statements - marked).toBeLessThanOrEqual(3)
    const { rows } = await pool.query<{ n: string }>("SELECT count(*) AS n FROM mail_deliveries WHERE message_id LIKE 'many-%' AND sent_at IS NOT NULL AND claimed_by IS NULL")
    expect(Number(rows[0]?.n)).toBe(50)
  })

  it('says sent for a sent message and busy for one held by a live claim, in the same batch as new ones', async () => {
    const deliveries = new DeliveryLog(pool, 60_000)
    const held = await deliveries.claim('held', 'mail.welcome.v1', 'a@example.com')
    expect(held.state).toBe('claimed')
    await deliveries.claim('done', 'mail.welcome.v1', 'b@example.com')
    await deliveries.markSent('done', '250 ok')
    const [fresh, again, sent] = await Promise.all([
      deliveries.claim('fresh', 'mail.welcome.v1', 'c@example.com'),
      deliveries.claim('held', 'mail.welcome.v1', 'a@example.com'),
      deliveries.claim('done', 'mail.welcome.v1', 'b@example.com')
    ])
    expect([fresh.state, again.state, sent.state]).toEqual(['claimed', 'busy', 'sent'])
  })

  it('gives one of two copies of a message in one batch the claim, the other is busy', async () => {
    const deliveries = new DeliveryLog(pool, 60_000)
    // A first call occupies the batcher, so the two copies queue into one batch together.
    const [, a, b] = await Promise.all([
      deliveries.claim('opener', 'mail.welcome.v1', 'o@example.com'),
      deliveries.claim('twice', 'mail.welcome.v1', 't@example.com'),
      deliveries.claim('twice', 'mail.welcome.v1', 't@example.com')
    ])
    expect([a.state, b.state].sort()).toEqual(['busy', 'claimed'])
  })

  it('takes over a claim whose lease ran out, and release() frees a claim at once', async () => {
    const deliveries = new DeliveryLog(pool, 50)
    expect((await deliveries.claim('lease', 'mail.welcome.v1', 'l@example.com')).state).toBe('claimed')
    expect((await deliveries.claim('lease', 'mail.welcome.v1', 'l@example.com')).state).toBe('busy')
    await new Promise((resolve) => setTimeout(resolve, 100))
    const taken = await deliveries.claim('lease', 'mail.welcome.v1', 'l@example.com')
    expect(taken.state).toBe('claimed')
    await deliveries.release('lease', taken.state === 'claimed' ? taken.owner : '')
    const slow = new DeliveryLog(pool, 60_000)
    expect((await slow.claim('lease', 'mail.welcome.v1', 'l@example.com')).state).toBe('claimed')
  })
})
