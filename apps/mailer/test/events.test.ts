import { randomUUID } from 'node:crypto'
import type { Channel } from 'amqplib'
import { NoEvents, USER_ID_HEADER, type EmittedEvent, eventsOfMessage } from '@socialnet/broker'
import { mailerTestbed, waitFor, type MailerTestbed } from './harness'
import type { MailerService } from '../src/service'
import { startSmtpSink, type SmtpSink } from './smtp-sink'

describe('mailer events', () => {
  let smtp: SmtpSink
  let bed: MailerTestbed
  let channel: Channel
  let first: MailerService
  const events: EmittedEvent[] = []

  beforeAll(async () => {
    smtp = await startSmtpSink()
    bed = await mailerTestbed(smtp.url)
    // The api's side: the testbed's publisher connection declared the events exchange and its queue.
    channel = await bed.raw.createChannel()
    await channel.consume(bed.names.events.queue, (msg) => {
      if (msg) events.push(...eventsOfMessage(msg) as EmittedEvent[])
    }, { noAck: true })
    first = await bed.startMailer({ REPLICA_ID: 'mailer-7' })
  })

  afterAll(async () => {
    await channel.close()
    await bed.cleanup()
    await smtp.close()
  })

  beforeEach(() => { smtp.mode = 'accept' })

  const publish = async (userId: string): Promise<string> => {
    const messageId = randomUUID()
    await bed.publisher.publish({
      type: 'mail.welcome.v1',
      messageId,
      payload: { to: 'ada@example.com', nickname: 'ada', verificationUrl: 'http://localhost:3000/v1/users/verify?token=abc' },
      headers: { [USER_ID_HEADER]: userId }
    })
    return messageId
  }
  const of = (messageId: string) => events.filter((e) => e.subject === `mail:${messageId}`)
  const waitForType = (messageId: string, type: string) => waitFor(() => of(messageId).some((e) => e.type === type), `${type} of ${messageId}`)

  test('a sent mail: consumed, then sent with the SMTP server\'s reply, attributed to the user of the x-user-id header', async () => {
    const userId = randomUUID()
    const messageId = await publish(userId)
    await waitForType(messageId, 'mail.sent')
    const [consumed, sent] = of(messageId)
    expect(consumed).toMatchObject({
      type: 'mail.consumed',
      service: 'mailer',
      replica: 'mailer-7',
      userId,
      data: { messageId, messageType: 'mail.welcome.v1', attempt: 1, queuedMs: expect.any(Number) }
    })
    expect(sent).toMatchObject({ type: 'mail.sent', userId, data: { messageId, smtpResponse: expect.stringMatching(/^250/), durationMs: expect.any(Number) } })
    expect(Date.parse(sent!.at)).not.toBeNaN()

    // The same message again: the delivery log knows it.
    await bed.publisher.publish({
      type: 'mail.welcome.v1',
      messageId,
      payload: { to: 'ada@example.com', nickname: 'ada', verificationUrl: 'http://localhost:3000/v1/users/verify?token=abc' }
    })
    await waitForType(messageId, 'mail.duplicate_skipped')
  })

  test('a refused mail: retry scheduled (when, why), then dead-lettered as permanent', async () => {
    smtp.mode = 'tempfail'
    const userId = randomUUID()
    const messageId = await publish(userId)
    await waitForType(messageId, 'mail.retry_scheduled')
    smtp.mode = 'permfail'
    await waitForType(messageId, 'mail.dead_lettered')
    const retry = of(messageId).find((e) => e.type === 'mail.retry_scheduled')!
    expect(retry).toMatchObject({ userId, data: { messageId, attempt: 1, reason: expect.stringContaining('SMTP'), retryAt: expect.any(String) } })
    const dead = of(messageId).find((e) => e.type === 'mail.dead_lettered')!
    expect(dead).toMatchObject({ userId, data: { messageId, permanent: true, reason: expect.stringContaining('refused'), attempts: expect.any(Number) } })
  })

  test('heartbeats: every REPLICA_HEARTBEAT_MS, idle or not, counting the mails it finished; a clean close says replica.stopped', async () => {
    const beating = await bed.startMailer({ REPLICA_ID: 'mailer-beat', REPLICA_HEARTBEAT_MS: '200' })
    const mine = (type: string) => events.filter((e) => e.replica === 'mailer-beat' && e.type === type)
    await waitFor(() => mine('replica.heartbeat').length >= 3, 'three heartbeats of an idle mailer')
    expect(mine('replica.heartbeat')[0]).toMatchObject({ service: 'mailer', subject: 'replica', data: { intervalMs: 200, handled: 0 } })

    // Two mailers share the queue: the count is this one's mails, whichever it took.
    const messageIds = await Promise.all(Array.from({ length: 6 }, () => publish(randomUUID())))
    await waitFor(() => messageIds.every((id) => of(id).some((e) => e.type === 'mail.sent')), 'six mails sent')
    const sentHere = messageIds.filter((id) => of(id).some((e) => e.type === 'mail.sent' && e.replica === 'mailer-beat')).length
    await waitFor(() => mine('replica.heartbeat').at(-1)!.data.handled === sentHere, `a heartbeat counting ${sentHere} mails`)

    await beating.close(1000)
    await waitFor(() => mine('replica.stopped').length === 1, 'replica.stopped')
    const stoppedAt = events.indexOf(mine('replica.stopped')[0]!)
    expect(events.slice(stoppedAt).some((e) => e.replica === 'mailer-beat' && e.type === 'replica.heartbeat')).toBe(false)
  })

  test('EVENTS=off: the mailer sends its share of the mail and publishes nothing, not even a heartbeat', async () => {
    const off = await bed.startMailer({ REPLICA_ID: 'mailer-off', EVENTS: 'off', REPLICA_HEARTBEAT_MS: '100' })
    try {
      expect(off.events).toBeInstanceOf(NoEvents)
      // The broker hands the two mailers' consumers messages in turn: each gets some of ten.
      const messageIds = await Promise.all(Array.from({ length: 10 }, () => publish(randomUUID())))
      // Settles once every mail is acked: the other mailer's mail.sent for each of its own, none for the EVENTS=off one's.
      const sentEvents = () => messageIds.filter((id) => of(id).some((e) => e.type === 'mail.sent')).length
      await waitFor(() => off.mailer.handled > 0 && sentEvents() === 10 - off.mailer.handled, 'both mailers\' share, and the other one\'s mail.sent events')
      expect(events.filter((e) => e.replica === 'mailer-off')).toEqual([])
    } finally {
      await off.close(1000)
    }
  })

  test('a mailer whose broker has no events exchange still sends mail; its events wait in a bounded buffer', async () => {
    const second = await bed.startMailer({ REPLICA_ID: 'mailer-8' })
    await channel.deleteExchange(bed.names.events.exchange)
    const before = smtp.mails.length
    const messageIds = [await publish(randomUUID()), await publish(randomUUID())]
    await waitFor(() => smtp.mails.length >= before + 2, 'both mails sent')
    for (const id of messageIds) expect(of(id).filter((e) => e.type === 'mail.sent')).toEqual([])
    // consumed + sent of each mail: waiting for the exchange, or counted as dropped (those in flight when it went).
    const accounted = () => [first, second].reduce((n, m) => n + m.events.buffered + m.events.dropped, 0)
    await waitFor(() => accounted() >= 4, 'every event of the two mails buffered or counted')
  })
})
