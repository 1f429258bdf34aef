import fp from 'fastify-plugin'
import { Registry, collectDefaultMetrics, type Metric } from 'prom-client'

/** The api's Prometheus metrics; one registry per app instance so tests can build several. */
export interface ApiMetrics {
  /** Each feature plugin registers its own metrics here (kv, outbox, jobs). */
  registry: Registry
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ApiMetrics
  }
}

/** A line of a metric as the registry formats it (prom-client's typings say less than it reads). */
interface MetricLine {
  metricName: string
  labels: Record<string, string | number>
  value: number
}

/** One (route, method, status) series: per-bucket counts (the last is above every bound), sum, count. */
interface Series {
  labels: { method: string; route: string; status: number }
  counts: number[]
  sum: number
  count: number
}

/**
 * A Prometheus histogram of request durations by route pattern, method and
 * status, in prom-client's metric shape (name, help, type, get(), reset()),
 * so the registry exposes it as it exposes a Histogram. prom-client's own
 * Histogram converts, validates, sorts and joins the label values on every
 * observe(), through a labels() child too: on every request that was the
 * largest item of the metrics hook, and garbage for the collector. Here a
 * series is found through maps keyed by the route pattern (the same string
 * on every request), the method and the status, and an observation is a
 * bucket search and three additions.
 */
export class RequestDurations {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  private readonly series = new Map<string, Map<string, Map<number, Series>>>()

  constructor(readonly name: string, readonly help: string, private readonly buckets: readonly number[]) {}

  observe(route: string, method: string, status: number, seconds: number): void {
    let byMethod = this.series.get(route)
    if (!byMethod) this.series.set(route, (byMethod = new Map()))
    let byStatus = byMethod.get(method)
    if (!byStatus) byMethod.set(method, (byStatus = new Map()))
    let series = byStatus.get(status)
    if (!series) {
      series = { labels: { method, route, status }, counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 }
      byStatus.set(status, series)
    }
    let bucket = 0
    while (bucket < this.buckets.length && seconds > this.buckets[bucket]!) bucket++
    series.counts[bucket]!++
    series.sum += seconds
    series.count++
  }

  /** The series as prom-client's Histogram reports them: cumulative `_bucket` lines with `le`, `+Inf`, `_sum`, `_count`. */
  get(): { name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: MetricLine[] } {
    const values: MetricLine[] = []
    for (const byMethod of this.series.values()) {
      for (const byStatus of byMethod.values()) {
        for (const { labels, counts, sum, count } of byStatus.values()) {
          let cumulative = 0
          this.buckets.forEach((le, i) => {
            cumulative += counts[i]!
            values.push({ metricName: `${this.name}_bucket`, labels: { le, ...labels }, value: cumulative })
          })
          values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: count })
          values.push({ metricName: `${this.name}_sum`, labels, value: sum })
          values.push({ metricName: `${this.name}_count`, labels, value: count })
        }
      }
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  reset(): void {
    this.series.clear()
  }
}

/**
 * Request rate/latency for every route; feature plugins register their own
 * service metrics on the registry. KV operations are the /v1/key/:key series
 * of the request histogram (method = op, status = hit 200 / miss 404 /
 * stored 201 / unavailable 503): a second counter per request would only
 * repeat them.
 */
export default fp(async function metrics(fastify) {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const httpDuration = new RequestDurations('http_request_duration_seconds', 'HTTP request latency by method, route and status',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5])
  // Registered like a prom-client metric: the registry only calls name, get() and reset().
  registry.registerMetric(httpDuration as unknown as Metric)
  const m: ApiMetrics = { registry }
  fastify.decorate('metrics', m)
  // Callback-style hook and Fastify's own reply.elapsedTime: this runs on every request,
  // and an async hook pair plus our own timer cost measurable throughput on the KV GET path.
  fastify.addHook('onResponse', (request, reply, done) => {
    // The route pattern, not the URL, keeps label cardinality bounded.
    httpDuration.observe(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1e3)
    done()
  })
}, { name: 'metrics' })
