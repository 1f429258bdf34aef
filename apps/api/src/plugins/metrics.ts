import fp from 'fastify-plugin'
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** The api's Prometheus metrics; one registry per app instance so tests can build several. */
export interface ApiMetrics {
  registry: Registry
  kvSyncSeconds: Histogram<string>
  kvCompactions: Counter<string>
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ApiMetrics
  }
}

/**
 * Request rate/latency for every route plus the service metrics other plugins
 * record. KV operations are the /v1/key/:key series of the request histogram
 * (method = op, status = hit 200 / miss 404 / stored 201 / unavailable 503):
 * a second counter per request would only repeat them.
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
  const m: ApiMetrics = {
    registry,
    kvSyncSeconds: new Histogram({
      name: 'kv_log_fsync_seconds',
      help: 'Latency of fsync on the key-value log (one per group commit)',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers: [registry]
    }),
    kvCompactions: new Counter({ name: 'kv_log_compactions_total', help: 'Completed key-value log compactions', registers: [registry] })
  }
  fastify.decorate('metrics', m)
  // Callback-style hook and Fastify's own reply.elapsedTime: this runs on every request,
  // and an async hook pair plus our own timer cost measurable throughput on the KV GET path.
  fastify.addHook('onResponse', (request, reply, done) => {
    // The route pattern, not the URL, keeps label cardinality bounded.
    const route = request.routeOptions.url ?? 'unmatched'
    httpDuration.observe({ method: request.method, route, status: reply.statusCode }, reply.elapsedTime / 1e3)
    done()
  })
}, { name: 'metrics' })
