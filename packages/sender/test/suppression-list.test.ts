import { randomUUID } from 'node:crypto'
import type { Pool } from 'pg'
import pino from 'pino'
import { ensureDatabase, migrate, openDatabase } from '@socialnet/db'
import { databaseUrl, dropDatabase, namespaceTag } from '@socialnet/testing'
import { DeliveryAttempts, SuppressionList } from '../src'

describe('suppression list and bounce policy (Postgres)', () => {
  const url = databaseUrl(`socialnet_test_sender_${namespaceTag()}`)
  const log = pino({ level: 'silent' })
  let pool: Pool
  let list: SuppressionList

  beforeAll(async () => {
    await ensureDatabase(url, log)
    pool = await openDatabase(url, log)
    await migrate(pool, log)
    list = new SuppressionList(pool)
  })

  afterAll(async () => {
    await pool.end()
    await dropDatabase(url)
  })

  test('one hard bounce suppresses, keyed lower-cased', async () => {
    expect(await list.recordBounce({ address: 'Gone@Example.com', kind: 'hard', source: 'dsn', detail: '5.1.1 user unknown' })).toBe('hard_bounce')
    expect(await list.reasonsFor(['gone@example.com', 'GONE@example.com', 'other@example.com'])).toEqual(new Map([['gone@example.com', 'hard_bounce']]))
    expect(await list.get('gone@example.com')).toMatchObject({ reason: 'hard_bounce', source: 'dsn', detail: '5.1.1 user unknown', count: 1 })
  })

  test('text from outside with a NUL byte or of any length is stored (without the NUL, cut at 1,000 characters), never refused', async () => {
    // A bounce's diagnostic and an SMTP reply are written by strangers; Postgres' text refuses U+0000.
    expect(await list.recordBounce({ address: 'nul@example.com', kind: 'hard', source: 'dsn', detail: `5.1.1 user\u0000 unknown ${'x'.repeat(2000)}` })).toBe('hard_bounce')
    const stored = await list.get('nul@example.com')
    expect(stored?.detail).toMatch(/^5\.1\.1 user unknown x+$/)
    expect(stored?.detail).toHaveLength(1000)
    const attempts = new DeliveryAttempts(pool)
    const messageId = randomUUID()
    await attempts.record([{ messageId, recipient: 'nul@example.com', outcome: 'bounced', smtpCode: 550, smtpReply: '550 no\u0000 such user', replica: 'mailer-1' }])
    expect((await attempts.forMessage(messageId)).map((a) => a.smtpReply)).toEqual(['550 no such user'])
  })

  test('one complaint suppresses', async () => {
    expect(await list.recordBounce({ address: 'angry@example.com', kind: 'complaint', source: 'arf' })).toBe('complaint')
  })

  test('soft bounces suppress at the third within a week, not before; older ones do not count', async () => {
    const address = `full-${randomUUID()}@example.com`
    await pool.query('INSERT INTO mail_bounces (address, kind, source, received_at) VALUES ($1, \'soft\', \'dsn\', now() - interval \'8 days\')', [address])
    expect(await list.recordBounce({ address, kind: 'soft', source: 'dsn' })).toBeNull()
    expect(await list.recordBounce({ address, kind: 'soft', source: 'dsn' })).toBeNull()
    expect((await list.reasonsFor([address])).size).toBe(0)
    expect(await list.recordBounce({ address, kind: 'soft', source: 'dsn', detail: '4.2.2 mailbox full' })).toBe('soft_bounce_limit')
  })

  test('concurrent soft bounces cannot all miss the limit', async () => {
    const address = `race-${randomUUID()}@example.com`
    const reasons = await Promise.all([1, 2, 3, 4].map(() => list.recordBounce({ address, kind: 'soft', source: 'dsn' })))
    expect(reasons.filter((r) => r === 'soft_bounce_limit').length).toBe(2)
    expect((await list.get(address))!.count).toBe(2)
  })

  test('a later report keeps the first reason and counts; removing lifts it and forgets the history', async () => {
    const address = `twice-${randomUUID()}@example.com`
    await list.add(address, 'admin', 'asked to stop')
    expect(await list.recordBounce({ address, kind: 'hard', source: 'dsn' })).toBe('manual')
    expect(await list.get(address)).toMatchObject({ reason: 'manual', count: 2 })
    expect(await list.remove(address)).toBe(true)
    expect(await list.remove(address)).toBe(false)
    expect(await list.get(address)).toBeUndefined()
    const { rows } = await pool.query('SELECT 1 FROM mail_bounces WHERE address = $1', [address])
    expect(rows).toHaveLength(0)
  })

  test('the list pages in address order', async () => {
    const prefix = `page-${randomUUID()}`
    for (const n of [3, 1, 2]) await list.add(`${prefix}-${n}@example.com`, 'cli')
    const seen: string[] = []
    let cursor: string | undefined = `${prefix}`
    for (;;) {
      const page = await list.list({ cursor, limit: 2 })
      seen.push(...page.suppressions.map((s) => s.address).filter((a) => a.startsWith(prefix)))
      if (!page.nextCursor || !page.nextCursor.startsWith(prefix)) break
      cursor = page.nextCursor
    }
    expect(seen).toEqual([1, 2, 3].map((n) => `${prefix}-${n}@example.com`))
  })

  test('the delivery log keeps every attempt of a message and pages a recipient newest first', async () => {
    const attempts = new DeliveryAttempts(pool)
    const messageId = randomUUID()
    const recipient = `log-${randomUUID()}@example.com`
    await attempts.record([
      { messageId, recipient, outcome: 'deferred', smtpCode: 421, smtpReply: '421 try later', replica: 'mailer-1', durationMs: 12.4 },
      { messageId, recipient: recipient.toUpperCase(), outcome: 'sent', smtpCode: 250, smtpReply: '250 ok', replica: 'mailer-2', durationMs: 30 }
    ])
    expect((await attempts.forMessage(messageId)).map((a) => [a.outcome, a.smtpCode, a.replica, a.durationMs])).toEqual([
      ['deferred', 421, 'mailer-1', 12], ['sent', 250, 'mailer-2', 30]
    ])
    expect(await attempts.recipientOf(messageId)).toEqual({ recipient, userId: null })
    const first = await attempts.forRecipient(recipient, { limit: 1 })
    expect(first.attempts.map((a) => a.outcome)).toEqual(['sent'])
    const second = await attempts.forRecipient(recipient, { cursor: first.nextCursor!, limit: 1 })
    expect(second.attempts.map((a) => a.outcome)).toEqual(['deferred'])
    expect(second.nextCursor).toBeNull()
    expect(await attempts.recipientOf(randomUUID())).toBeUndefined()
  })
})
