import fp from 'fastify-plugin'
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client'

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
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry]
  })
  const m: ApiMetrics = { registry }
  fastify.decorate('metrics', m)
  // Callback-style hook and Fastify's own reply.elapsedTime: this runs on every request,
  // and an async hook pair plus our own timer cost measurable throughput on the KV GET path.
  // One histogram child per (route, method, status), found through maps keyed by the route
  // pattern (the same string on every request), the method and the status code: observe() with a
  // label object would hash the sorted labels on every request, and a joined string key would be
  // built and hashed anew each time.
  type Child = ReturnType<typeof httpDuration.labels>
  const children = new Map<string, Map<string, Map<number, Child>>>()
  fastify.addHook('onResponse', (request, reply, done) => {
    // The route pattern, not the URL, keeps label cardinality bounded.
    const route = request.routeOptions.url ?? 'unmatched'
    const { method } = request
    const status = reply.statusCode
    let byMethod = children.get(route)
    if (!byMethod) children.set(route, (byMethod = new Map()))
    let byStatus = byMethod.get(method)
    if (!byStatus) byMethod.set(method, (byStatus = new Map()))
    let child = byStatus.get(status)
    if (!child) byStatus.set(status, (child = httpDuration.labels({ method, route, status })))
    child.observe(reply.elapsedTime / 1e3)
    done()
  })
}, { name: 'metrics' })
