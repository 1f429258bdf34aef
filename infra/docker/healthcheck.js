'use strict'
// Container healthcheck for the socialnet images (no curl in the slim image).
//   node /app/healthcheck.js [path]
// api:    GET http://127.0.0.1:$PORT<path>, path default /health (compose passes /ready)
// mailer: GET /metrics on MAILER_METRICS_PORT when set (the only HTTP it serves)
// bounces: GET http://127.0.0.1:$OPS_PORT<path> when OPS_PORT is set (compose passes /ready)
// worker: no HTTP server; a worker that died has already exited, which the runtime sees.
const app = process.env.APP
const path = process.argv[2] ?? '/health'
let url
if (app === 'api') url = `http://127.0.0.1:${process.env.PORT || 3000}${path}`
else if (app === 'mailer' && Number(process.env.MAILER_METRICS_PORT) > 0) url = `http://127.0.0.1:${process.env.MAILER_METRICS_PORT}/metrics`
else if (app === 'bounces' && Number(process.env.OPS_PORT) > 0) url = `http://127.0.0.1:${process.env.OPS_PORT}${path}`
if (!url) process.exit(0)
fetch(url, { signal: AbortSignal.timeout(2500) })
  .then((res) => process.exit(res.status === 200 ? 0 : 1), () => process.exit(1))
