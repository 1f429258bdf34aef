import type { ChannelModel } from 'amqplib'
import {
  Consumer,
  PermanentError,
  Publisher,
  TransientError,
  classifyFailure,
  topology,
  type BrokerConnection,
  type FailureOutcome,
  type HandlerContext,
  type MessageHandler
} from '../src'
import { waitFor } from '@socialnet/testing'
import { depth, drain, randomPrefix, rawConnection, removeTopology, testConnection, TEST_RETRY_DELAYS_MS } from './harness'

const welcome = { to: 'ada@example.com', nickname: 'ada', verificationUrl: 'http://localhost:3000/v1/users/verify?token=abc' }

describe('classifyFailure: the one place that says permanent or transient', () => {
  it.each([
    ['PermanentError', new PermanentError('550 no such user', { code: 'SMTP_5XX' }), true, 'SMTP_5XX'],
    ['TransientError', new TransientError('451 try later', { code: 'SMTP_4XX' }), false, 'SMTP_4XX'],
    ['DNS temporary failure', Object.assign(new Error('getaddrinfo EAI_AGAIN x'), { code: 'EAI_AGAIN' }), false, 'EAI_AGAIN'],
    ['DNS not found', Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' }), false, 'ENOTFOUND'],
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), false, 'ECONNREFUSED'],
    ['connection reset', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), false, 'ECONNRESET'],
    ['timeout', Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }), false, 'ETIMEDOUT'],
    ['unknown error', new Error('who knows'), false, 'UNCLASSIFIED'],
    ['a thrown string', 'oops', false, 'UNCLASSIFIED']
  ])('%s', (_name, err, permanent, code) => {
    expect(classifyFailure(err)).toMatchObject({ permanent, code })
  })

  it('keeps the Retry-After a transient failure asked for', () => {
    expect(classifyFailure(new TransientError('429', { code: 'CALLBACK_429', retryAfterMs: 3000 }))).toEqual({ permanent: false, code: 'CALLBACK_429', reason: '429', retryAfterMs: 3000 })
  })
})

describe('Consumer: context, onFailure and Retry-After', () => {
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

  async function run(handler: MessageHandler, messageId: string): Promise<FailureOutcome[]> {
    const outcomes: FailureOutcome[] = []
    consumer = new Consumer(connection, { queue: 'mail', handler, maxAttempts: 3, onFailure: (o) => { outcomes.push(o) } })
    await consumer.start()
    await publisher.publish({ type: 'mail.welcome.v1', messageId, payload: welcome })
    return outcomes
  }

  it('tells the handler its attempt and whether it is the last; tells onFailure each decision with its jittered delay', async () => {
    const contexts: HandlerContext[] = []
    const outcomes = await run(async (_m, context) => {
      contexts.push(context)
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
    }, 'ctx-1')
    await waitFor(async () => (await depth(raw, mail.dlq)) === 1, 'dead letter')
    expect(contexts).toEqual([{ attempt: 1, isLastAttempt: false }, { attempt: 2, isLastAttempt: false }, { attempt: 3, isLastAttempt: true }])
    expect(outcomes.map((o) => [o.action, o.attempt, o.code, o.permanent])).toEqual([
      ['retry', 1, 'ECONNREFUSED', false], ['retry', 2, 'ECONNREFUSED', false], ['dead-letter', 3, 'ECONNREFUSED', false]
    ])
    outcomes.slice(0, 2).forEach((o, i) => {
      const base = TEST_RETRY_DELAYS_MS[i]!
      expect(o.action === 'retry' && o.delayMs >= base * 0.8 && o.delayMs <= base).toBe(true)
    })
    expect(outcomes[2]).toMatchObject({ kind: 'exhausted', error: 'connect ECONNREFUSED', reason: 'failed 3 attempts, last: connect ECONNREFUSED' })
    const [dead] = await drain(raw, mail.dlq)
    expect(dead!.properties.headers).toMatchObject({ 'x-failure-code': 'ECONNREFUSED', 'x-first-failed-at': expect.any(String), 'x-failed-at': expect.any(String) })
  })

  it('a permanent failure is dead-lettered at once with its code; onFailure hears permanent: true', async () => {
    const outcomes = await run(async () => { throw new PermanentError('schema says no', { code: 'INVALID_MESSAGE' }) }, 'perm-2')
    await waitFor(async () => (await depth(raw, mail.dlq)) === 1, 'dead letter')
    expect(outcomes).toEqual([expect.objectContaining({ action: 'dead-letter', kind: 'permanent', permanent: true, code: 'INVALID_MESSAGE', attempt: 1 })])
  })

  it('a Retry-After longer than the next delay picks a longer retry queue and waits exactly that', async () => {
    let calls = 0
    const outcomes = await run(async () => {
      calls += 1
      if (calls === 1) throw new TransientError('busy', { code: 'CALLBACK_429', retryAfterMs: 150 })
    }, 'later-1')
    await waitFor(() => calls === 2, 'second attempt')
    expect(outcomes).toEqual([expect.objectContaining({ action: 'retry', delayMs: 150, code: 'CALLBACK_429' })])
  })
})
