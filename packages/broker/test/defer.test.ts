import type { ChannelModel } from 'amqplib'
import { waitFor } from '@socialnet/testing'
import {
  Consumer,
  DeadLetterQueue,
  DeferredError,
  Publisher,
  TransientError,
  classifyFailure,
  topology,
  type AnyConsumedMessage,
  type BrokerConnection,
  type ConsumerDecision,
  type ConsumerOptions,
  type FailureOutcome,
  type MessageHandler
} from '../src'
import { deferTarget } from '../src/retry-schedule'
import { depth, drain, randomPrefix, rawConnection, removeTopology, testConnection, TEST_RETRY_DELAYS_MS } from './harness'

const welcome = { to: 'ada@example.com', nickname: 'ada', verificationUrl: 'http://localhost:3000/v1/users/verify?token=abc' }

describe('deferTarget: where a deferred message waits', () => {
  const retries = [50, 100, 200].map((delayMs) => ({ delayMs, name: `retry.${delayMs}` }))

  it.each([
    [70, 'retry.100', 70],
    [100, 'retry.100', 100],
    [10, 'retry.50', 50],
    [0, 'retry.50', 50],
    [5000, 'retry.200', 200]
  ])('%i ms -> %s for %i ms', (delayMs, queue, waits) => {
    expect(deferTarget(retries, delayMs)).toEqual({ queue, delayMs: waits })
  })

  it('a DeferredError is a transient failure asking for its delay, for whoever cannot defer', () => {
    const err = new DeferredError('out of tokens', { delayMs: 1500, scope: 'example.com' })
    expect(err).toBeInstanceOf(TransientError)
    expect(classifyFailure(err)).toEqual({ permanent: false, code: 'DEFERRED', reason: 'out of tokens', retryAfterMs: 1500 })
  })
})

describe('Consumer: the defer outcome', () => {
  const prefix = randomPrefix()
  const names = topology({ prefix, retryDelaysMs: TEST_RETRY_DELAYS_MS })
  const mail = names.queues.mail
  let raw: ChannelModel
  let connection: BrokerConnection
  let publisher: Publisher
  let consumer: Consumer | undefined

  beforeAll(async () => {
    raw = await rawConnection()
    connection = testConnection(prefix)
    await connection.connect()
    publisher = new Publisher(connection)
  })
  afterEach(async () => {
    await consumer?.stop(1000)
    consumer = undefined
    await drain(raw, mail.dlq)
  })
  afterAll(async () => {
    await publisher.close()
    await connection.close()
    await removeTopology(raw, names)
    await raw.close()
  })

  async function run(options: Omit<ConsumerOptions, 'queue' | 'onFailure' | 'onDecision'>, messageId: string) {
    const outcomes: FailureOutcome[] = []
    const decisions: ConsumerDecision[] = []
    consumer = new Consumer(connection, { queue: 'mail', maxAttempts: 3, ...options, onFailure: (o) => { outcomes.push(o) }, onDecision: (d) => decisions.push(d) })
    await consumer.start()
    await publisher.publish({ type: 'mail.welcome.v1', messageId, payload: welcome })
    return { outcomes, decisions }
  }

  it('parks a deferred message and brings it back with the same attempt count, acked, never dead-lettered', async () => {
    const seen: AnyConsumedMessage[] = []
    const { outcomes, decisions } = await run({
      handler: async (message) => {
        seen.push(message)
        if (seen.length <= 2) throw new DeferredError('example.com is out of tokens', { delayMs: 60, scope: 'example.com', code: 'THROTTLED' })
      }
    }, 'defer-1')
    await waitFor(() => seen.length === 3, 'handled after two deferrals')
    await waitFor(() => consumer!.active === 0, 'ack')
    expect(seen.map((m) => m.attempt)).toEqual([1, 1, 1])
    expect(seen.map((m) => m.redelivered)).toEqual([false, false, false])
    expect(seen[2]!.headers).toMatchObject({ 'x-deferrals': 2, 'x-first-deferred-at': expect.any(String) })
    expect(seen[2]!.headers['x-failure-code']).toBeUndefined()
    expect(outcomes).toEqual([
      expect.objectContaining({ action: 'defer', attempt: 1, deferrals: 1, scope: 'example.com', code: 'THROTTLED', delayMs: 60, permanent: false }),
      expect.objectContaining({ action: 'defer', attempt: 1, deferrals: 2 })
    ])
    await waitFor(() => decisions.length === 2, 'two decisions')
    expect(decisions[0]).toMatchObject({ action: 'defer', messageId: 'defer-1', attempt: 1, deferrals: 1, scope: 'example.com', delayMs: 60, retryAt: expect.any(Date) })
    await consumer!.stop(1000)
    expect(await depth(raw, mail.name)).toBe(0)
    expect(await depth(raw, mail.dlq)).toBe(0)
    for (const retry of mail.retries) expect(await depth(raw, retry.name)).toBe(0)
  })

  it('past maxDeferralMs a deferral counts as a failed attempt, so the attempt limit ends it in the dlq', async () => {
    const attempts: number[] = []
    const { outcomes } = await run({
      maxDeferralMs: 1,
      handler: async (message) => {
        attempts.push(message.attempt)
        throw new DeferredError('still out of tokens', { delayMs: 60, code: 'THROTTLED' })
      }
    }, 'defer-2')
    await waitFor(async () => (await depth(raw, mail.dlq)) === 1, 'dead letter')
    expect(attempts).toEqual([1, 1, 2, 3])
    expect(outcomes.map((o) => o.action)).toEqual(['defer', 'retry', 'retry', 'dead-letter'])
    const { messages: [dead] } = await new DeadLetterQueue(connection, 'mail').list(10)
    expect(dead).toMatchObject({ kind: 'exhausted', code: 'THROTTLED', attempts: 3 })

    // A replay starts afresh: deferrable again, its wait counted from its next deferral.
    await consumer!.stop(1000)
    const replayed: AnyConsumedMessage[] = []
    const handler: MessageHandler = async (message) => {
      replayed.push(message)
      if (replayed.length === 1) throw new DeferredError('once more', { delayMs: 60 })
    }
    consumer = new Consumer(connection, { queue: 'mail', maxAttempts: 3, maxDeferralMs: 60_000, handler })
    await consumer.start()
    await new DeadLetterQueue(connection, 'mail').replay({ all: true, limit: 10 }, 'test')
    await waitFor(() => replayed.length === 2, 'replayed, deferred once, handled')
    expect(replayed.map((m) => m.attempt)).toEqual([1, 1])
    expect(replayed[0]!.headers['x-deferrals']).toBeUndefined()
    expect(replayed[1]!.headers['x-deferrals']).toBe(1)
  })
})
