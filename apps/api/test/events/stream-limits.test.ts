import { useTestApp } from '../helper'
import { signUp, signUpVerified } from '../accounts'
import { SseClient } from './sse-client'

/** Streams opened by a test, closed after it. */
function tracker(t: ReturnType<typeof useTestApp>) {
  const opened: SseClient[] = []
  afterEach(() => { for (const client of opened.splice(0)) client.close() })
  return async (path: string, headers: Record<string, string> = {}) => {
    const result = await SseClient.open(t.app, path, headers)
    opened.push(result.client)
    return result
  }
}

describe('event streams: caps per client address and for unverified accounts', () => {
  // EVENTS_STREAMS_PER_IP is left to its default, a tenth of the replica's streams: 2 of 20.
  const t = useTestApp({ EVENTS_MAX_STREAMS: '20' }, { waitForBroker: true })
  const open = tracker(t)
  beforeAll(async () => { await t.app.listen({ port: 0, host: '127.0.0.1' }) })

  test('an unverified account gets one stream (429 TOO_MANY_STREAMS_UNVERIFIED past it); many accounts from one address share a tenth of the replica (429)', async () => {
    const fresh = await signUp(t.app)
    const first = await open('/v1/events', fresh.auth)
    expect(first.status).toBe(200)
    const second = await open('/v1/events', fresh.auth)
    expect(second.status).toBe(429)
    expect(second.body).toEqual({ error: 'TOO_MANY_STREAMS_UNVERIFIED', message: expect.stringContaining('1 event streams') })

    // Each verified account is far under EVENTS_STREAMS_PER_USER (5); the address is not.
    const alice = await signUpVerified(t.app)
    expect((await open('/v1/events', alice.auth)).status).toBe(200)
    const bob = await signUpVerified(t.app)
    const refused = await open('/v1/events', bob.auth)
    expect(refused.status).toBe(429)
    expect(refused.body).toEqual({ error: 'TOO_MANY_STREAMS_FROM_ADDRESS', message: expect.stringContaining('2 event streams') })
    // Not the replica's 503: 18 of its 20 streams are free for everyone else.
    expect(t.app.eventStreams.hub.size).toBe(2)

    // A stream closed frees the address's slot (the server notices the close asynchronously).
    first.client.close()
    for (;;) {
      const retry = await open('/v1/events', bob.auth)
      if (retry.status === 200) break
      expect(retry.status).toBe(429)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })
})

describe('event streams: a maximum lifetime, and a resume that misses nothing', () => {
  const t = useTestApp({ EVENTS_STREAM_MAX_LIFETIME_MS: '1000', JOB_RATE_PER_MINUTE: '0' }, { waitForBroker: true })
  const open = tracker(t)
  beforeAll(async () => { await t.app.listen({ port: 0, host: '127.0.0.1' }) })

  test('the server ends a stream with stream.end carrying the id to resume from; reconnecting with it gets what happened in between', async () => {
    const user = await signUpVerified(t.app)
    // No event reaches this stream before it ends: the resume point comes from the end itself.
    const { status, client } = await open('/v1/events', user.auth)
    expect(status).toBe(200)
    const end = await client.next((e) => e.event === 'stream.end')
    expect(end.id).toMatch(/^\d+-\d+$/)
    expect(end.data).toMatchObject({ type: 'stream.end', data: { reason: expect.stringContaining('maximum lifetime') } })
    await client.end()

    // A job submitted while the client is away...
    const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', headers: user.auth, payload: { type: 'callback', callbackUrl: 'https://example.com/hook' } })
    expect(res.statusCode).toBe(202)
    const jobId = res.json().id as string
    // ...is in the resumed stream.
    const resumed = (await open('/v1/events', { ...user.auth, 'last-event-id': end.id! })).client
    const seen = await resumed.next((e) => e.event === 'job.status' && e.data.data?.jobId === jobId)
    expect(seen.data).toMatchObject({ userId: user.id, data: { status: 'QUEUED' } })
  })
})
