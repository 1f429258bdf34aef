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
  // One histogram child per (method, route, status), found by a string key: observe() with a
  // label object would hash the sorted labels on every request.
  const children = new Map<string, ReturnType<typeof httpDuration.labels>>()
  fastify.addHook('onResponse', (request, reply, done) => {
    // The route pattern, not the URL, keeps label cardinality bounded.
    const route = request.routeOptions.url ?? 'unmatched'
    const id = `${request.method} ${reply.statusCode} ${route}`
    let child = children.get(id)
    if (!child) children.set(id, (child = httpDuration.labels({ method: request.method, route, status: reply.statusCode })))
    child.observe(reply.elapsedTime / 1e3)
    done()
  })
}, { name: 'metrics' })
