import { Histogram, Registry, type Metric } from 'prom-client'
import { RequestDurations } from '../../src/plugins/metrics'

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

describe('RequestDurations', () => {
  test('exposes exactly what prom-client\'s Histogram exposes for the same observations (bounds inclusive, +Inf, sum, count)', async () => {
    const theirs = new Registry()
    const reference = new Histogram({ name: 'http_request_duration_seconds', help: 'latency', labelNames: ['method', 'route', 'status'], buckets: BUCKETS, registers: [theirs] })
    const ours = new Registry()
    const durations = new RequestDurations('http_request_duration_seconds', 'latency', BUCKETS)
    ours.registerMetric(durations as unknown as Metric)
    const observations: Array<[string, string, number, number]> = [
      ['/v1/key/:key', 'GET', 200, 0.0004],
      ['/v1/key/:key', 'GET', 200, 0.001], // on a bound: counted in it (le is "less or equal")
      ['/v1/key/:key', 'GET', 404, 0.003],
      ['/v1/key/:key', 'PUT', 201, 0.2],
      ['unmatched', 'GET', 404, 7], // past the last bound: only +Inf
      ['/health', 'GET', 200, 0.00001]
    ]
    for (const [route, method, status, seconds] of observations) {
      reference.labels({ method, route, status }).observe(seconds)
      durations.observe(route, method, status, seconds)
    }
    const lines = (text: string) => text.split('\n').filter((l) => l.startsWith('http_request')).sort()
    expect(lines(await ours.metrics())).toEqual(lines(await theirs.metrics()))
    expect(await ours.metrics()).toContain('http_request_duration_seconds_count{method="GET",route="/v1/key/:key",status="200"} 2')
    ours.resetMetrics()
    expect(lines(await ours.metrics())).toEqual([])
  })
})
