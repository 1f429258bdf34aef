import type { Pool } from 'pg'
import pino from 'pino'
import { ensureDatabase, migrate, openDatabase } from '@socialnet/db'
import { DeliveryAttempts, SuppressionList } from '@socialnet/sender'
import { databaseUrl, dropDatabase, namespaceTag } from '@socialnet/testing'
import { AttemptLog } from '../src/attempt-log'
import { SuppressionCheck } from '../src/suppression-check'

// Every mail asks the suppression list and writes a delivery log row: both must cost
// the mails handled at once one statement between them, not one each.
describe('suppression lookups and delivery log writes of the send path (batched)', () => {
  const url = databaseUrl(`socialnet_test_send_path_${namespaceTag()}`)
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

  it('answers each of many concurrent lookups with its own reason, in a few statements, whatever the letter case', async () => {
    const list = new SuppressionList(pool)
    await list.add('Blocked@Example.com', 'test')
    await list.recordBounce({ address: 'gone@example.com', kind: 'hard', source: 'dsn' })
    const check = new SuppressionCheck(list)
    const addresses = [...Array.from({ length: 48 }, (_, i) => `fine${i}@example.com`), 'blocked@example.COM', 'GONE@example.com']
    const before = statements
    const reasons = await Promise.all(addresses.map((address) => check.reasonFor(address)))
    expect(statements - before).toBeLessThanOrEqual(3)
    expect(reasons.slice(0, 48).every((r) => r === undefined)).toBe(true)
    expect(reasons.slice(48)).toEqual(['manual', 'hard_bounce'])
  })

  it('writes many concurrent attempts in a few statements, and a user id that is not a uuid does not sink the batch', async () => {
    const attempts = new DeliveryAttempts(pool)
    const writer = new AttemptLog(attempts, 'mailer-t', log)
    const before = statements
    await Promise.all(Array.from({ length: 50 }, (_, i) => writer.record({
      messageId: `batch-${i}`, recipient: `r${i}@example.com`, userId: i === 7 ? 'not-a-uuid' : null, outcome: 'sent', smtpCode: 250, smtpReply: '250 ok', durationMs: 3
    })))
    expect(statements - before).toBeLessThanOrEqual(3)
    const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM mail_attempts WHERE message_id LIKE 'batch-%' AND replica = 'mailer-t'")
    expect(rows[0]!.n).toBe(50)
  })
})
