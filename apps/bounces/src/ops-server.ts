import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import type { Registry } from 'prom-client'

/** What the ops port asks of the service. */
export interface OpsProbes {
  registry: Registry
  /** True when reports can be taken now: SMTP listening and Postgres answering. */
  ready(): Promise<boolean>
}

const JSON_TYPE = { 'content-type': 'application/json' }

/**
 * Serves GET /health (the process answers), /ready (503 until reports can be
 * applied) and /metrics (Prometheus) on `port`, like the other services' ops
 * ports; resolves once listening. Bound to every interface: scrapers and
 * probes run elsewhere.
 */
export async function serveOps(probes: OpsProbes, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const path = req.url?.split('?')[0]
    if (req.method !== 'GET') {
      res.writeHead(405, { ...JSON_TYPE, allow: 'GET' }).end('{"error":"METHOD_NOT_ALLOWED","message":"only GET"}')
    } else if (path === '/health') {
      res.writeHead(200, JSON_TYPE).end('{"status":"ok"}')
    } else if (path === '/ready') {
      probes.ready().then(
        (ready) => res.writeHead(ready ? 200 : 503, JSON_TYPE).end(ready ? '{"status":"ready"}' : '{"error":"NOT_READY","message":"SMTP or Postgres not ready"}'),
        () => res.writeHead(503, JSON_TYPE).end('{"error":"NOT_READY","message":"readiness check failed"}')
      )
    } else if (path === '/metrics') {
      probes.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': probes.registry.contentType }).end(body),
        () => res.writeHead(500).end()
      )
    } else {
      res.writeHead(404, JSON_TYPE).end('{"error":"NOT_FOUND","message":"GET /health, /ready or /metrics"}')
    }
  })
  server.listen(port)
  await once(server, 'listening')
  return server
}
