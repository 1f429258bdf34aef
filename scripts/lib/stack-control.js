// @ts-check
'use strict'
const http = require('node:http')
const { rmSync } = require('node:fs')

/**
 * The running stack listens on a unix socket in its directory; `npm run
 * stack:restart` talks to it. A socket (not a signal) so the caller waits for
 * the outcome and gets a non-zero exit when the restart failed.
 * @param {string} socketPath
 * @param {{ restart: () => Promise<string>, status: () => object }} handlers
 */
function serveControl(socketPath, handlers) {
  rmSync(socketPath, { force: true })
  let busy = false
  const server = http.createServer((req, res) => {
    const reply = (/** @type {number} */ status, /** @type {object} */ body) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n')
    }
    if (req.method === 'GET' && req.url === '/status') return reply(200, handlers.status())
    if (req.method !== 'POST' || req.url !== '/restart') return reply(404, { error: 'NOT_FOUND', message: 'POST /restart or GET /status' })
    if (busy) return reply(409, { error: 'BUSY', message: 'a rolling restart is already running' })
    busy = true
    handlers.restart().then(
      (message) => reply(200, { status: 'restarted', message }),
      (err) => reply(500, { error: 'RESTART_FAILED', message: err.message })
    ).finally(() => { busy = false })
  })
  server.listen(socketPath)
  return server
}

/**
 * Sends one request to a running stack's control socket.
 * @param {string} socketPath @param {string} method @param {string} path
 * @returns {Promise<{ status: number, body: any }>}
 */
function callControl(socketPath, method, path) {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (chunk) => { text += chunk })
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) })
        } catch {
          reject(new Error(`unexpected answer from the stack: ${text.slice(0, 200)}`))
        }
      })
    })
    req.on('error', reject).end()
  })
}

module.exports = { serveControl, callControl }
