'use strict'
/**
 * What every fault shares: an isolated namespace (database, AMQP prefix,
 * Redis prefix, temp dir) removed afterwards, the built apps as child
 * processes that can be SIGKILLed, a real SMTP server that counts mails by
 * Message-ID and can stall or refuse, and polling with a deadline.
 *
 * Every child started here is remembered, so an interrupted run (Ctrl-C,
 * crash) kills them all on the way out.
 */
const { spawn } = require('node:child_process')
const { once } = require('node:events')
const { join } = require('node:path')
const { SMTPServer } = require('smtp-server')
const { ROOT, AMQP_URL, REDIS_URL, PG_ADMIN_URL, isolatedEnv, freePort } = require('../harness')

/** Short retry delays so a fault's retries finish within the suite's time bound. */
const RETRY_DELAYS_MS = '200,500,1000,2000'

const children = new Set()

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` every 100 ms until it is truthy or `timeoutMs` passed; resolves with the last value. */
async function waitUntil(check, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value || Date.now() > deadline) return value
    await sleep(100)
  }
}

/**
 * One fault's namespace (harness isolatedEnv with the short retry delays):
 * `env` is what every app of the fault gets; cleanup() deletes the queues
 * (under both the default and the short retry delays), the database, the
 * Redis keys and the temp dir.
 */
function namespace(fault) {
  const ns = isolatedEnv(fault, { scope: 'faults', retryDelaysMs: RETRY_DELAYS_MS.split(',').map(Number) })
  return { ...ns, env: { ...ns.env, RATE_LIMIT_RPS: '0', OUTBOX_POLL_MS: '500', LOG_LEVEL: 'warn' } }
}

/**
 * Starts `node <script>` (a path under the repo, or apps/<name>/dist/server.js
 * for 'api', 'mailer', 'worker'); `kill(signal)` and `stop()` (SIGTERM, then
 * `forceSignal` after `stopTimeoutMs`) resolve once it exited. stderr is kept
 * for error messages. A supervisor of its own children (scripts/stack.js)
 * takes a second SIGTERM as its force signal: SIGKILL would orphan them.
 */
function startChild(name, env, { args = [], command = process.execPath, script, stopTimeoutMs = 15000, forceSignal = 'SIGKILL' } = {}) {
  const path = script ?? join(ROOT, 'apps', name, 'dist', 'server.js')
  const child = spawn(command, command === process.execPath ? [path, ...args] : args, {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  const keep = (chunk) => { output = (output + chunk).slice(-8000) }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  child.forceSignal = forceSignal
  children.add(child)
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => { children.delete(child); resolve(code ?? signal) }))
  const running = () => child.exitCode === null && child.signalCode === null
  return {
    name,
    child,
    exited,
    running,
    get output() { return output },
    async kill(signal = 'SIGKILL') { if (running()) child.kill(signal); return exited },
    async stop() {
      if (!running()) return exited
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill(forceSignal), stopTimeoutMs)
      await exited
      clearTimeout(timer)
      return exited
    }
  }
}

/** The built api on a free port, resolved once /ready answers 200. */
async function startApi(env, port) {
  const apiPort = port ?? await freePort()
  const api = startChild('api', { ...env, HOST: '127.0.0.1', PORT: String(apiPort) })
  api.url = `http://127.0.0.1:${apiPort}`
  const ready = await waitUntil(async () => {
    if (!api.running()) return true
    return fetch(`${api.url}/ready`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status === 200, () => false)
  }, 30000)
  if (!ready || !api.running()) { await api.kill(); throw new Error(`api did not become ready: ${api.output}`) }
  return api
}

/**
 * A real SMTP server. `mode` decides each mail: 'accept', 'refuse' (421 at
 * connect, 451 at MAIL FROM), or 'stall' (MAIL FROM answered only after
 * `stallMs`, with a 451, by which time the client gave up). Counts accepted
 * mails by the id inside their Message-ID and by recipient.
 */
async function startSmtpSink() {
  const byId = new Map()
  const byRecipient = new Map()
  const sink = { mode: 'accept', stallMs: 10000, refused: 0, stalled: 0, total: 0, byId, byRecipient }
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onConnect(_session, callback) {
      if (sink.mode !== 'refuse') return callback()
      sink.refused++
      callback(Object.assign(new Error('service not available, try later'), { responseCode: 421 }))
    },
    onMailFrom(_address, _session, callback) {
      if (sink.mode === 'refuse') { sink.refused++; return callback(Object.assign(new Error('try again later'), { responseCode: 451 })) }
      if (sink.mode === 'stall') { sink.stalled++; setTimeout(() => callback(Object.assign(new Error('stalled'), { responseCode: 451 })), sink.stallMs); return }
      callback()
    },
    onData(stream, session, callback) {
      let head = ''
      stream.on('data', (chunk) => { if (head.length < 8192) head += chunk.toString('latin1') })
      stream.on('end', () => {
        const match = /^Message-ID:\s*<([^@>]+)@/im.exec(head)
        const id = match ? match[1] : `no-id-${sink.total}`
        byId.set(id, (byId.get(id) || 0) + 1)
        for (const { address } of session.envelope.rcptTo) byRecipient.set(address, (byRecipient.get(address) || 0) + 1)
        sink.total++
        callback()
      })
    }
  })
  // A client killed mid-session (the point of some faults) resets its connection: not a sink failure.
  server.on('error', () => {})
  server.listen(0, '127.0.0.1')
  await once(server.server, 'listening')
  sink.url = `smtp://127.0.0.1:${server.server.address().port}`
  sink.close = () => new Promise((resolve) => server.close(resolve))
  return sink
}

/** accepted/delivered/lost/duplicated from what was accepted (ids) and how often each arrived (counts). */
function tally(acceptedIds, counts) {
  let delivered = 0
  let duplicated = 0
  for (const id of acceptedIds) {
    const n = counts.get(id) || 0
    if (n > 0) delivered++
    if (n > 1) duplicated += n - 1
  }
  return { accepted: acceptedIds.length, delivered, lost: acceptedIds.length - delivered, duplicated }
}

/** Kills every child still running (used on the way out of an interrupted run). */
function killAll() {
  for (const child of children) child.kill(child.forceSignal)
}

/** Runs `worker(i)` over 0..n-1 with `concurrency` at a time. */
async function pool(n, concurrency, worker) {
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => { while (next < n) await worker(next++) }))
}

module.exports = { AMQP_URL, REDIS_URL, PG_ADMIN_URL, RETRY_DELAYS_MS, sleep, waitUntil, namespace, startChild, startApi, startSmtpSink, tally, killAll, pool, freePort }
