import type { QueueStats, ReplicaSeen } from '../api/types'

/** How far back the admin charts reach; one sample a second (each `queue.stats`). */
export const HISTORY_MS = 10 * 60_000
/** Mail latencies are taken over this trailing window at each sample: a percentile of one second's mails is noise. */
export const LATENCY_WINDOW_MS = 10_000

/** One chart's data: sample times (seconds, as uPlot takes them) and one line per name, `null` where it has no value. */
export interface ChartData {
  times: number[]
  lines: { name: string; values: (number | null)[] }[]
}

/**
 * A ring of samples over the last HISTORY_MS: at most one per second, so
 * 600 in all; older ones fall off as new ones come. A line that appears
 * later (a new replica) is `null` before it, and one that goes away is
 * `null` after.
 */
export class History {
  private readonly samples: { at: number; values: Map<string, number | null> }[] = []

  /** Adds a sample taken at `at` (ms) and drops what is older than the window. */
  push(at: number, values: Map<string, number | null>): void {
    this.samples.push({ at, values })
    while (this.samples.length > 0 && this.samples[0]!.at < at - HISTORY_MS) this.samples.shift()
  }

  /** The samples as chart data, lines sorted by name. */
  data(): ChartData {
    const names = [...new Set(this.samples.flatMap((s) => [...s.values.keys()]))].sort()
    return {
      times: this.samples.map((s) => s.at / 1000),
      lines: names.map((name) => ({ name, values: this.samples.map((s) => s.values.get(name) ?? null) }))
    }
  }
}

/** The `p`-th percentile (0..1) of sorted values, nearest rank. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!
}

/**
 * What the admin page charts, fed by its admin stream: queue depth per
 * queue (ready + unacked), messages per second per replica (from the
 * `handled` counts their heartbeats carry), and p50/p99 of `mail.sent`'s
 * `durationMs` over the last LATENCY_WINDOW_MS. Sampled once per
 * `queue.stats`, so the three charts share their time axis.
 */
export class AdminHistory {
  readonly depth = new History()
  readonly rates = new History()
  readonly latency = new History()
  private readonly lastCount = new Map<string, { handled: number; at: number; rate: number | null }>()
  private sent: { at: number; ms: number }[] = []

  /** A `mail.sent` seen on the stream: its send time counts in the latency window. */
  mailSent(at: number, durationMs: number): void {
    this.sent.push({ at, ms: durationMs })
  }

  /** A `queue.stats`: one sample on every chart. */
  sample(at: number, queues: QueueStats[], replicas: ReplicaSeen[]): void {
    this.depth.push(at, new Map(queues.map((q) => [q.name, q.ready === null ? null : q.ready + (q.unacked ?? 0)])))
    this.rates.push(at, this.ratesOf(replicas))
    this.sent = this.sent.filter((s) => s.at > at - LATENCY_WINDOW_MS)
    const sorted = this.sent.map((s) => s.ms).sort((a, b) => a - b)
    this.latency.push(at, new Map([
      ['p50', sorted.length > 0 ? percentile(sorted, 0.5) : null],
      ['p99', sorted.length > 0 ? percentile(sorted, 0.99) : null]
    ]))
  }

  // A count moves with each heartbeat (every few seconds): the rate between the last two
  // is held until the next. A restarted replica's count starts again at 0: no negative rate.
  private ratesOf(replicas: ReplicaSeen[]): Map<string, number | null> {
    const rates = new Map<string, number | null>()
    for (const r of replicas) {
      if (r.handled === undefined) continue
      const name = `${r.service}/${r.replica}`
      const at = Date.parse(r.lastSeenAt)
      const last = this.lastCount.get(name)
      let rate = last?.rate ?? null
      if (last && at > last.at) rate = r.handled >= last.handled ? (r.handled - last.handled) / ((at - last.at) / 1000) : null
      if (!last || at > last.at) this.lastCount.set(name, { handled: r.handled, at, rate })
      rates.set(name, r.stale ? null : rate)
    }
    for (const name of this.lastCount.keys()) if (!rates.has(name)) this.lastCount.delete(name)
    return rates
  }
}
