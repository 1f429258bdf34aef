import { useTestApp } from '../helper'

describe('EventStore: each user\'s own copy of the stream', () => {
  const t = useTestApp()

  test('a user\'s replay reads their entries only, under the shared stream\'s ids, and their copy expires', async () => {
    const { store } = t.app.eventStreams
    const event = (userId: string | undefined, n: number) => ({
      type: 'mail.sent' as const,
      at: new Date().toISOString(),
      service: 'mailer' as const,
      replica: 'mailer-1',
      subject: `mail:${n}`,
      ...(userId ? { userId } : {}),
      data: { n }
    })
    const ids: Record<string, string[]> = { a: [], b: [], none: [] }
    for (let n = 0; n < 6; n++) {
      const owner = (['a', 'b', 'none'] as const)[n % 3]!
      const e = event(owner === 'none' ? undefined : `user-${owner}`, n)
      ids[owner]!.push(await store.append(e, JSON.stringify(e)))
    }
    const all = await store.after('0-0', 100)
    expect(all.map((e) => e.id)).toEqual([...ids.a!, ...ids.b!, ...ids.none!].sort())
    const mine = await store.after('0-0', 100, 'user-a')
    expect(mine.map((e) => e.id)).toEqual(ids.a)
    expect(mine.map((e) => e.event.data.n)).toEqual([0, 3])
    // Resuming after the first: only what followed it, by the shared stream's ids.
    expect((await store.after(ids.a![0]!, 100, 'user-a')).map((e) => e.id)).toEqual([ids.a![1]])
    const ttl = await t.app.redis.pttl(store.userStreamKey('user-a'))
    expect(ttl).toBeGreaterThan(0)
    expect(ttl).toBeLessThanOrEqual(10 * 60_000)
  })
})
