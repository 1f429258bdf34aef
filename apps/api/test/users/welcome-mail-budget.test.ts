import Redis from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import { Registry } from 'prom-client'
import { namespaceTag, REDIS_URL, unlinkRedisKeys, redisBounds } from '@socialnet/testing'
import { WelcomeMailBudget } from '../../src/users/welcome-mail-budget'

describe('WelcomeMailBudget', () => {
  const prefix = `test:mailbudget:${namespaceTag()}:`
  const redis = new Redis(REDIS_URL, redisBounds())
  afterAll(async () => {
    await unlinkRedisKeys(prefix)
    redis.disconnect()
  })

  /** A logger that keeps its warn lines (pino's shape is all the budget uses). */
  const logLines = () => {
    const warnings: unknown[] = []
    const log = { warn: (obj: unknown) => { warnings.push(obj) } } as unknown as FastifyBaseLogger
    return { log, warnings }
  }

  test('a ceiling that bites warns once per window, however many mails it withholds', async () => {
    const { log, warnings } = logLines()
    const budget = new WelcomeMailBudget(redis, { prefix: `${prefix}a:`, perMailboxPerDay: 0, perDomainPerMinute: 1, perMinute: 0 }, new Registry(), log)
    expect((await budget.take('first@flood.example')).send).toBe(true)
    for (let i = 0; i < 5; i++) expect(await budget.take(`n${i}@flood.example`)).toMatchObject({ send: false, reason: 'domain_minute', limit: 1 })
    expect(warnings).toEqual([expect.objectContaining({ reason: 'domain_minute', domain: 'flood.example', limit: 1 })])
  })

  test('a mail withheld by a ceiling gives the mailbox its take back', async () => {
    const { log } = logLines()
    const budget = new WelcomeMailBudget(redis, { prefix: `${prefix}b:`, perMailboxPerDay: 1, perDomainPerMinute: 0, perMinute: 1 }, new Registry(), log)
    expect((await budget.take('someone@one.example')).send).toBe(true)
    // The total ceiling is spent: the next mailbox's mail is withheld, and its daily mail is still there for later.
    expect(await budget.take('Other+x@two.example')).toMatchObject({ send: false, reason: 'total_minute' })
    await redis.del(`${prefix}b:mail:total:all`)
    expect((await budget.take('other+y@two.example')).send).toBe(true)
    expect(await budget.take('other@two.example')).toMatchObject({ send: false, reason: 'mailbox_daily' })
  })
})
