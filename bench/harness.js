'use strict'
/**
 * What every benchmark suite shares: free ports, starting the built api as a
 * child process, autocannon runs, percentiles, and the row shape of
 * bench/results/latest.json.
 */
const { spawn } = require('node:child_process')
const { createServer } = require('node:net')
const { join } = require('node:path')
const autocannon = require('autocannon')

const ROOT = join(__dirname, '..')

/** A free TCP port on loopback. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)) })
  })
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted, p) {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
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
 * answers; resolves `{ url, stop }` where stop() sends SIGTERM and waits.
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
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}: ${stderr}`)
    try {
      const res = await fetch(url + readyPath)
      if (res.ok) break
    } catch {}
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`${script} did not become ready: ${stderr}`) }
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url,
    child,
    async stop() { if (child.exitCode === null) { child.kill('SIGTERM'); await exited } }
  }
}

/** The api from apps/api/dist with the given env (rate limit off unless set). */
function startApi(env) {
  return startProcess(join(ROOT, 'apps', 'api', 'dist', 'server.js'), { RATE_LIMIT_RPS: '0', ...env })
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
  let best = { baseline: undefined, subject: undefined }
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

module.exports = { ROOT, profileFlags, freePort, percentile, startProcess, startApi, load, compare, processCpuMs, row }
