import { AdminHistory, HISTORY_MS, History, percentile } from '../src/charts/history'
import type { QueueStats, ReplicaSeen } from '../src/api/types'

const queue = (name: string, ready: number | null, unacked: number | null): QueueStats => ({ name, ready, unacked, consumers: 1, dlq: 0 })
const replica = (name: string, handled: number, at: number, stale = false): ReplicaSeen =>
  ({ service: 'mailer', replica: name, lastSeenAt: new Date(at).toISOString(), stale, handled })

describe('the admin charts\' history', () => {
  test('keeps ten minutes of samples, one line per name, null where a line has no value', () => {
    const history = new History()
    const start = Date.parse('2026-12-07T10:00:00Z')
    for (let s = 0; s <= 700; s++) history.push(start + s * 1000, new Map([['mail', s]]))
    history.push(start + 701_000, new Map([['jobs', 1]]))
    const data = history.data()
    expect(data.times).toHaveLength(HISTORY_MS / 1000 + 1)
    expect(data.times[0]).toBe((start + 101_000) / 1000)
    expect(data.lines.map((l) => l.name)).toEqual(['jobs', 'mail'])
    expect(data.lines[0]!.values.at(-2)).toBeNull()
    expect(data.lines[1]!.values.slice(-2)).toEqual([700, null])
  })

  test('depth is ready + unacked (ready alone without the management API); rates come from two heartbeats\' counts', () => {
    const history = new AdminHistory()
    const t0 = Date.parse('2026-12-07T10:00:00Z')
    history.sample(t0, [queue('mail', 3, 2), queue('jobs', 4, null), queue('thumbnails', null, null)], [replica('m1', 10, t0)])
    // Between heartbeats the last rate holds; the first heartbeat gives none yet.
    history.sample(t0 + 1000, [], [replica('m1', 10, t0)])
    history.sample(t0 + 2000, [], [replica('m1', 20, t0 + 2000)])
    history.sample(t0 + 3000, [], [replica('m1', 20, t0 + 2000)])
    // Restarted (count back to 0): no negative rate. Stale: no rate at all.
    history.sample(t0 + 4000, [], [replica('m1', 0, t0 + 4000)])
    history.sample(t0 + 5000, [], [replica('m1', 0, t0 + 4000, true)])
    expect(history.depth.data().lines.map((l) => [l.name, l.values[0]])).toEqual([['jobs', 4], ['mail', 5], ['thumbnails', null]])
    expect(history.rates.data().lines).toEqual([{ name: 'mailer/m1', values: [null, null, 5, 5, null, null] }])
  })

  test('latency: p50 and p99 of the mails sent in the last ten seconds', () => {
    const history = new AdminHistory()
    const t0 = Date.parse('2026-12-07T10:00:00Z')
    for (let i = 1; i <= 100; i++) history.mailSent(t0 - 500, i)
    history.sample(t0, [], [])
    history.sample(t0 + 20_000, [], [])
    expect(history.latency.data().lines).toEqual([{ name: 'p50', values: [50, null] }, { name: 'p99', values: [99, null] }])
    expect(percentile([7], 0.99)).toBe(7)
  })
})
