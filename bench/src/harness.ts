'use strict'
/**
 * What every benchmark suite shares: free ports, an isolated namespace on the
 * shared services, starting the built api as a child process, autocannon
 * runs, percentiles, and the row shape of bench/results/latest.json.
 */
const { spawn } = require('node:child_process')
const { randomBytes } = require('node:crypto')
const { join } = require('node:path')
const autocannon = require('autocannon')
const { topology } = require('@socialnet/broker')
const testing = require('@socialnet/testing')
const { AMQP_URL, REDIS_URL, PG_ADMIN_URL, freePort } = testing

const ROOT = join(__dirname, '..')

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted, p) {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

/**
 * A namespace of its own on the shared services (@socialnet/testing's
 * isolatedEnv, as the tests use), scoped `bench` unless told otherwise, with
 * `names`: the topology its apps declare (retry queues follow `retryDelaysMs`).
 */
function isolatedEnv(name, { scope = 'bench', retryDelaysMs } = {}) {
  const ns = testing.isolatedEnv(name, { scope, retryDelaysMs })
  return { ...ns, names: topology({ prefix: ns.prefix, retryDelaysMs }) }
}

/**
 * Node flags for the processes under test: `BENCH_CPU_PROF=<dir>` writes a
 * V8 CPU profile of each one into <dir> when it exits (NODE_OPTIONS may not
 * carry --cpu-prof). Open them in Chrome DevTools or speedscope.
 */
function profileFlags() {
  const dir = process.env.BENCH_CPU_PROF
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []
}

/**
 * Runs `node <script>` with env on a free port and waits until GET <path>
 * answers; resolves `{ url, stop }` where stop() sends SIGTERM, waits, and
 * SIGKILLs after 20 s so a stuck shutdown cannot hang the run.
 */
async function startProcess(script, env, { readyPath = '/health', timeoutMs = 30000 } = {}) {
  const port = await freePort()
  const child = spawn(process.execPath, [...profileFlags(), script], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)))
  const running = () => child.exitCode === null && child.signalCode === null
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (!running()) throw new Error(`${script} exited with ${child.exitCode ?? child.signalCode}: ${stderr}`)
    try {
      const res = await fetch(url + readyPath, { signal: AbortSignal.timeout(2000) })
      await res.arrayBuffer()
      if (res.ok) break
    } catch {}
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`${script} did not become ready: ${stderr}`) }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    url,
    child,
    async stop() {
      if (!running()) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 20000)
      await exited
      clearTimeout(timer)
    }
  }
}

/** The api from apps/api/dist with the given env (rate limit off unless set); opts as startProcess. */
function startApi(env, opts) {
  return startProcess(join(ROOT, 'apps', 'api', 'dist', 'server.js'), { RATE_LIMIT_RPS: '0', ...env }, opts)
}

/**
 * Registers a user on a running api and logs them in (job routes need a
 * session); resolves with `{ id, authorization }`, the value for the
 * Authorization header.
 */
async function signUp(apiUrl, nickname = `bench${randomBytes(4).toString('hex')}`) {
  const password = 'bench password 123'
  const post = (path, body) => fetch(`${apiUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const created = await post('/v1/users', { email: `${nickname}@example.com`, nickname, password })
  if (created.status !== 201) throw new Error(`sign-up failed: ${created.status} ${await created.text()}`)
  const login = await post('/v1/sessions', { login: nickname, password })
  if (login.status !== 201) throw new Error(`login failed: ${login.status} ${await login.text()}`)
  return { id: (await created.json()).id, authorization: `Bearer ${(await login.json()).token}` }
}

/** autocannon with the bench defaults; returns req/s (2xx only) and latency percentiles. */
async function load(opts) {
  const result = await autocannon({ connections: 50, duration: 5, ...opts })
  const ok = result['2xx']
  const seconds = result.duration
  return {
    rps: ok / seconds,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99
  }
}

/** CPU time (user + system) a process has used so far, in ms; Linux only (/proc). */
function processCpuMs(pid) {
  const fields = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // utime + stime in USER_HZ (100 on Linux)
}

/**
 * Loads a baseline and a subject server in alternation, `rounds` times each
 * after a 1 s warm-up of both, and keeps each one's best round: on a shared
 * machine a single run of each measures the neighbours' load as much as the
 * server, and the best round is the one least disturbed. Also reports CPU
 * microseconds per request of each server process (steady under load).
 * `baseline` and `subject`: { url, pid, requests }.
 */
async function compare(baseline, subject, { duration = 5, rounds = 2, ...opts } = {}) {
  const one = async (target, seconds) => {
    const cpu = processCpuMs(target.pid)
    const result = await load({ ...opts, url: target.url, requests: target.requests, duration: seconds })
    const used = processCpuMs(target.pid) - cpu
    return { ...result, cpuUsPerReq: result.rps > 0 ? Math.round((used * 1000) / (result.rps * seconds)) : NaN }
  }
  await one(baseline, 1)
  await one(subject, 1)
  const best = { baseline: undefined, subject: undefined }
  for (let i = 0; i < rounds; i++) {
    for (const [name, target] of [['baseline', baseline], ['subject', subject]]) {
      const r = await one(target, duration)
      if (!best[name] || r.rps > best[name].rps) best[name] = r
    }
  }
  return best
}

/** One result row; ratio is value/baseline, or baseline/value when lower is better. */
function row(name, value, unit, baseline, baselineValue, { lowerIsBetter = false, goal, extra } = {}) {
  const ratio = lowerIsBetter ? baselineValue / value : value / baselineValue
  return { name, value: round(value), unit, baseline, baselineValue: round(baselineValue), ratio: round(ratio, 3), goal, extra }
}

function round(n, digits = 2) {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

/**
 * `POST /v1/users` under autocannon, each request with a fresh e-mail and nickname
 * (`r<tag><n>`: tags are unique per namespace); returns registrations/s and latencies.
 */
async function registrationLoad(url, { tag, connections, duration, password = 'correct horse battery staple' }) {
  let n = 0
  const result = await autocannon({
    url: `${url}/v1/users`,
    connections,
    duration,
    requests: [{
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      setupRequest(req) {
        const i = n++
        return { ...req, body: JSON.stringify({ email: `r${tag}${i}@example.com`, nickname: `r${tag}${i}`, password }) }
      }
    }]
  })
  return { perSecond: result['2xx'] / result.duration, non2xx: result.non2xx, errors: result.errors + result.timeouts, p50Ms: result.latency.p50, p99Ms: result.latency.p99 }
}

/** `node bench/suites/<name>.js` runs that suite alone and prints its rows as JSON. */
function runIfMain(suiteModule, run) {
  if (require.main !== suiteModule) return
  run().then((rows) => console.log(JSON.stringify(rows, null, 2)), (err) => { console.error(err); process.exit(1) })
}

module.exports = {
  ROOT,
  AMQP_URL,
  REDIS_URL,
  PG_ADMIN_URL,
  isolatedEnv,
  freePort,
  percentile,
  startProcess,
  startApi,
  signUp,
  registrationLoad,
  compare,
  processCpuMs,
  row,
  runIfMain
}
