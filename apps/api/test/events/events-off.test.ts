import { NoEvents } from '@socialnet/broker'
import { useTestApp } from '../helper'
import { signUpVerified } from '../accounts'
import { promoteToAdmin } from '../../src/users/repository'

describe('EVENTS=off', () => {
  const t = useTestApp({ EVENTS: 'off', JOB_RATE_PER_MINUTE: '0' }, { waitForBroker: true })

  test('the three stream routes answer 503 EVENTS_OFF, signed in or not, admin or not', async () => {
    const user = await signUpVerified(t.app)
    const admin = await signUpVerified(t.app)
    await promoteToAdmin(t.app.db, admin.email)
    const submitted = await t.app.inject({ method: 'POST', url: '/v1/jobs', headers: user.auth, payload: { type: 'callback', callbackUrl: 'https://example.com/hook' } })
    expect(submitted.statusCode).toBe(202)
    const jobId = submitted.json().id as string
    const asked: Array<[string, Record<string, string>]> = [
      ['/v1/events', user.auth],
      ['/v1/events', {}],
      [`/v1/jobs/${jobId}/events`, user.auth],
      ['/v1/admin/events', admin.auth],
      ['/v1/admin/events', user.auth]
    ]
    for (const [url, headers] of asked) {
      const res = await t.app.inject({ method: 'GET', url, headers })
      expect({ url, status: res.statusCode, body: res.json() }).toEqual({ url, status: 503, body: { error: 'EVENTS_OFF', message: 'Service Unavailable' } })
    }
  })

  test('nothing is published and nothing collects: the events queue has no consumer and stays empty, the stream is never written', async () => {
    expect(t.app.events).toBeInstanceOf(NoEvents)
    const user = await signUpVerified(t.app)
    // A job reports QUEUED (job.status), a registration user.registered: both would be events.
    const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', headers: user.auth, payload: { type: 'callback', callbackUrl: 'https://example.com/hook' } })
    expect(res.statusCode).toBe(202)
    const channel = await t.app.broker.connection.createChannel()
    try {
      // The api still declares the events queue with its topology (mailers with EVENTS=on may publish to it).
      const queue = await channel.checkQueue(t.app.broker.connection.topology.events.queue)
      expect({ messages: queue.messageCount, consumers: queue.consumerCount }).toEqual({ messages: 0, consumers: 0 })
    } finally {
      await channel.close()
    }
    expect(await t.app.redis.exists(t.app.eventStreams.store.streamKey)).toBe(0)
  })
})
