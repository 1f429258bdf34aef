import type { EmittedEvent } from '@socialnet/broker'
import { waitFor } from '@socialnet/testing'
import { useTestApp } from '../helper'
import { signUpVerified } from '../accounts'
import { EventHub } from '../../src/events/hub'
import type { StoredEvent } from '../../src/events/event-store'
import { SseClient } from './sse-client'

const mailSent = (subject: string, userId?: string): EmittedEvent => ({
  type: 'mail.sent', at: new Date().toISOString(), service: 'mailer', replica: 'm-1', subject, ...(userId ? { userId } : {}), data: {}
})

describe('the event hub reads only while watched', () => {
  const t = useTestApp({}, { waitForBroker: true })
  beforeAll(async () => { await t.app.listen({ port: 0, host: '127.0.0.1' }) })

  test('no subscriber, no reader; the first one starts it after the newest entry, the last one leaving stops it, and the next run starts after what came meanwhile', async () => {
    const store = t.app.eventStreams.store
    const hub = new EventHub(t.app.redis, store, t.app.log, 0)
    const append = (subject: string) => store.append(mailSent(subject), JSON.stringify(mailSent(subject)))
    // The run asks for the newest entry through the shared client's automatic pipeline, which
    // goes out on the next turn of the event loop; an append (an explicit pipeline) goes out at
    // once and could overtake it. A command queued after that question is answered after it: once
    // it is, the appends below come after the run's start.
    const answered = () => t.app.redis.xlen(store.streamKey)
    try {
      expect(hub.reading).toBe(false)
      await append('mail:before-1')
      await append('mail:before-2')
      const first: StoredEvent[] = []
      const leave = hub.subscribe({ deliver: (e) => first.push(e) })
      expect(hub.reading).toBe(true)
      await answered()
      const ids = [await append('mail:live-1'), await append('mail:live-2')]
      await waitFor(() => first.length === 2, 'the two live events')
      expect(first.map((e) => e.id)).toEqual(ids)

      leave()
      await waitFor(() => !hub.reading, 'the reader stopped')
      await append('mail:unwatched')
      const second: StoredEvent[] = []
      hub.subscribe({ deliver: (e) => second.push(e) })
      await answered()
      const next = await append('mail:live-3')
      await waitFor(() => second.length === 1, 'the live event of the second run')
      expect(second.map((e) => e.id)).toEqual([next])
      expect(first).toHaveLength(2)
    } finally {
      await hub.stop()
    }
    expect(hub.reading).toBe(false)
  })

  test('a stream resumed while nobody watched gets every event after its Last-Event-ID once, replayed then live, and its close stops the reader again', async () => {
    const { hub, store } = t.app.eventStreams
    const user = await signUpVerified(t.app)
    await waitFor(() => !hub.reading, 'an idle replica')
    const append = (subject: string) => store.append(mailSent(subject, user.id), JSON.stringify(mailSent(subject, user.id)))
    const stored = [await append('mail:r-1'), await append('mail:r-2'), await append('mail:r-3')]
    const { status, client } = await SseClient.open(t.app, '/v1/events', { ...user.auth, 'last-event-id': stored[0]! })
    try {
      expect(status).toBe(200)
      // Appended while the stream replays and the reader starts: each must come exactly once.
      stored.push(await append('mail:r-4'), await append('mail:r-5'))
      await client.next((e) => e.data.subject === 'mail:r-5')
      stored.push(await append('mail:r-6'))
      await client.next((e) => e.data.subject === 'mail:r-6')
      expect(client.events.filter((e) => e.event === 'mail.sent').map((e) => e.id)).toEqual(stored.slice(1))
    } finally {
      client.close()
    }
    await waitFor(() => hub.size === 0 && !hub.reading, 'the reader stopped after the last stream')
  })
})
