import type { FastifyInstance } from 'fastify'
import { EVENT_BATCH_TYPE, type EmittedEvent } from '@socialnet/broker'
import { waitFor } from '@socialnet/testing'
import { buildApp, useTestApp } from '../helper'

async function metric(app: FastifyInstance, name: string): Promise<number> {
  const text = (await app.inject({ url: '/metrics' })).body
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line ? Number(line.split(' ')[1]) : 0
}

const event = (over: Partial<EmittedEvent>): EmittedEvent => ({
  type: 'mail.sent', at: new Date().toISOString(), service: 'mailer', replica: 'm-1', subject: 'mail:1', data: {}, ...over
})

/** Publishes as a service would, on a channel of the app's own connection; resolves once the broker confirmed. */
async function publish(app: FastifyInstance, routingKey: string, body: unknown, type?: string): Promise<void> {
  const channel = await app.broker.connection.createChannel()
  try {
    channel.publish(app.broker.connection.topology.events.exchange, routingKey, Buffer.from(JSON.stringify(body)), { contentType: 'application/json', type })
    await channel.waitForConfirms()
  } finally {
    await channel.close()
  }
}

describe('the events collector', () => {
  const t = useTestApp({}, { waitForBroker: true })

  test('a batch goes into the stream in its order, each owned event into its owner\'s copy too; events its service does not emit are discarded; a single event of an older publisher still counts', async () => {
    const store = t.app.eventStreams.store
    const collectedBefore = await metric(t.app, 'socialnet_events_collected_total')
    const discardedBefore = await metric(t.app, 'socialnet_events_discarded_total')
    await publish(t.app, 'batch.mailer', [
      event({ type: 'mail.consumed', subject: 'mail:a', userId: 'u-1' }),
      // Not the mailer's to say (its broker user may not publish job.* either), nor the api's name to use.
      event({ type: 'job.status', subject: 'job:x' }),
      event({ type: 'mail.sent', subject: 'mail:a', service: 'api' }),
      event({ type: 'mail.sent', subject: 'mail:a', userId: 'u-1' }),
      event({ type: 'mail.sent', subject: 'mail:b' })
    ], EVENT_BATCH_TYPE)
    // Before batches: one event, routed by its type.
    await publish(t.app, 'mail.sent', event({ subject: 'mail:old' }))
    await waitFor(async () => await metric(t.app, 'socialnet_events_collected_total') - collectedBefore === 4, 'four events collected')
    expect(await metric(t.app, 'socialnet_events_discarded_total') - discardedBefore).toBe(2)
    const stored = await store.after('0-0', 100)
    expect(stored.map((s) => `${s.event.type} ${s.event.subject}`)).toEqual(['mail.consumed mail:a', 'mail.sent mail:a', 'mail.sent mail:b', 'mail.sent mail:old'])
    // The owner's copy: the same entries under the same ids.
    const own = await store.after('0-0', 100, 'u-1')
    expect(own.map((s) => s.id)).toEqual(stored.slice(0, 2).map((s) => s.id))
  })

  test('one replica collects at a time (single active consumer); when it goes, the next one takes over', async () => {
    // Started second, the new replica waits behind the first one's consumer.
    const second = await buildApp(t.env.config)
    try {
      await second.broker.connection.waitForConnection()
      const queue = t.app.broker.connection.topology.events.queue
      const channel = await second.broker.connection.createChannel()
      await waitFor(async () => (await channel.checkQueue(queue)).consumerCount === 2, 'both replicas consuming')
      await channel.close()
      const counts = async () => [await metric(t.app, 'socialnet_events_collected_total'), await metric(second, 'socialnet_events_collected_total')]
      const [firstBefore, secondBefore] = await counts()
      await publish(second, 'batch.mailer', [event({ subject: 'mail:sac-1' }), event({ subject: 'mail:sac-2' })], EVENT_BATCH_TYPE)
      await waitFor(async () => (await counts())[0]! - firstBefore! === 2, 'the first replica collected both')
      expect((await counts())[1]).toBe(secondBefore)

      // The first replica stops (restarted: it comes back behind the second one).
      const restarted = await t.restart()
      await restarted.broker.connection.waitForConnection()
      await publish(second, 'batch.mailer', [event({ subject: 'mail:sac-3' })], EVENT_BATCH_TYPE)
      await waitFor(async () => await metric(second, 'socialnet_events_collected_total') - secondBefore! === 1, 'the second replica took over')
      expect(await metric(restarted, 'socialnet_events_collected_total')).toBe(0)
      const subjects = (await t.app.eventStreams.store.after('0-0', 100)).map((s) => s.event.subject).filter((s) => s.startsWith('mail:sac'))
      expect(subjects).toEqual(['mail:sac-1', 'mail:sac-2', 'mail:sac-3'])
    } finally {
      await second.close()
    }
  })
})
