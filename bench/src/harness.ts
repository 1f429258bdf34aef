/**
 * What every benchmark suite shares: free ports, an isolated namespace on the
 * shared services, starting the built api as a child process, autocannon
 * runs, interleaved rounds of a subject and its baseline, and the row shape
 * of bench/results/latest.json.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { topology, type Topology } from '@socialnet/broker'
import * as testing from '@socialnet/testing'
import { goalsMet, goalText, median, round, summarize, type Goal, type Sample, type Summary } from './stats'

export { AMQP_URL, REDIS_URL, PG_ADMIN_URL, freePort } from '@socialnet/testing'
export { percentile, median } from './stats'

/** The repository root (this file runs from bench/dist). */
export const ROOT = join(__dirname, '..', '..')

/** What a suite's run() gets from bench/run.ts. */
export interface SuiteContext {
  quick?: boolean
  log?: (message: string) => void
}

/** Interleaved rounds: 5 by default, 3 with --quick (a median of 3 still ignores one outlier). */
export const roundsFor = (quick: boolean | undefined): number => (quick ? 3 : 5)

export type BenchEnv = testing.IsolatedEnv & { names: Topology }

/**
 * A namespace of its own on the shared services (@socialnet/testing's
 * isolatedEnv, as the tests use), scoped `bench` unless told otherwise, with
 * `names`: the topology its apps declare (retry queues follow `retryDelaysMs`).
 */
export function isolatedEnv(name: string, { scope = 'bench', retryDelaysMs }: { scope?: string, retryDelaysMs?: number[] } = {}): BenchEnv {
  const ns = testing.isolatedEnv(name, { scope, retryDelaysMs })
  return { ...ns, names: topology({ prefix: ns.prefix, retryDelaysMs }) }
}

/**
 * Node flags for the processes under test: `BENCH_CPU_PROF=<dir>` writes a
 * V8 CPU profile of each one into <dir> when it exits (NODE_OPTIONS may not
 * carry --cpu-prof). Open them in Chrome DevTools or speedscope.
 */
function profileFlags(): string[] {
  const dir = process.env.BENCH_CPU_PROF
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []
}

export interface Started {
  url: string
  child: ChildProcessWithoutNullStreams
  /** The child's pid (always set: spawn failures throw before). */
  pid: number
  stop(): Promise<void>
}

/**
 * Runs `node <script>` with env on a free port and waits until GET <path>
 * answers; resolves with `stop()`, which sends SIGTERM, waits, and SIGKILLs
 * after 20 s so a stuck shutdown cannot hang the run.
 */
export async function startProcess(script: string, env: Record<string, string>, { readyPath = '/health', timeoutMs = 30000 } = {}): Promise<Started> {
  const port = await testing.freePort()
  const child = spawn(process.execPath, [...profileFlags(), script], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: 'pipe'
  })
  child.stdout.resume()
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
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
    pid: child.pid!,
    async stop() {
      if (!running()) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 20000)
      await exited
      clearTimeout(timer)
    }
  }
}

/** The api from apps/api/dist with the given env (rate limit and registration limits off unless set); opts as startProcess. */
export function startApi(env: Record<string, string>, opts?: { readyPath?: string, timeoutMs?: number }): Promise<Started> {
  return startProcess(join(ROOT, 'apps', 'api', 'dist', 'server.js'), { RATE_LIMIT_RPS: '0', ...testing.REGISTRATION_LIMITS_OFF, ...imageMemoryEnv(), ...env }, opts)
}

/**
 * The memory settings the container image sets on its ENV lines (glibc's
 * MALLOC_*, V8's flags in NODE_OPTIONS), so the api is measured the
 * way it runs in production.
 */
export function imageMemoryEnv(): Record<string, string> {
  memoryEnv ??= Object.fromEntries(readFileSync(join(ROOT, 'infra', 'docker', 'Dockerfile'), 'utf8')
    .split('\n').filter((line) => line.startsWith('ENV '))
    .flatMap((line) => [...line.matchAll(/\b(MALLOC_[A-Z_]+|NODE_OPTIONS)=(\S+)/g)])
    .map((m) => [m[1]!, m[2]!]))
  return memoryEnv
}
let memoryEnv: Record<string, string> | undefined

/**
 * Registers a user on a running api and logs them in (job routes need a
 * session); resolves with `{ id, authorization }`, the value for the
 * Authorization header.
 */
export async function signUp(apiUrl: string, nickname = `bench${randomBytes(4).toString('hex')}`): Promise<{ id: string, authorization: string }> {
  const password = 'bench password 123'
  const post = (path: string, body: unknown) => fetch(`${apiUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const created = await post('/v1/users', { email: `${nickname}@example.com`, nickname, password })
  if (created.status !== 201) throw new Error(`sign-up failed: ${created.status} ${await created.text()}`)
  const login = await post('/v1/sessions', { login: nickname, password })
  if (login.status !== 201) throw new Error(`login failed: ${login.status} ${await login.text()}`)
  const { id } = await created.json() as { id: string }
  const { token } = await login.json() as { token: string }
  return { id, authorization: `Bearer ${token}` }
}

/** CPU time (user + system) a process has used so far, in ms; Linux only (/proc). */
export function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // utime + stime in USER_HZ (100 on Linux)
}

/** CPU µs this process used while `fn` ran, with its result. */
export async function ownCpu<T>(fn: () => Promise<T>): Promise<{ result: T, cpuUs: number }> {
  const before = process.cpuUsage()
  const result = await fn()
  const used = process.cpuUsage(before)
  return { result, cpuUs: used.user + used.system }
}

/** CPU µs process `pid` used while `fn` ran (from /proc, 10 ms resolution), with its result. */
export async function childCpu<T>(pid: number, fn: () => Promise<T>): Promise<{ result: T, cpuUs: number }> {
  const before = processCpuMs(pid)
  const result = await fn()
  return { result, cpuUs: (processCpuMs(pid) - before) * 1000 }
}

/**
 * Runs `baseline` and `subject` alternately: one warm-up call of each
 * (discarded: JIT, pools, caches), then `rounds` pairs B S B S ... Round i
 * of each side ran within seconds of the other, so their ratio cancels most
 * of the machine's drifting load; summarize() takes the median over pairs.
 */
export async function interleave<B extends Sample, S extends Sample>(
  baseline: (round: number) => Promise<B>,
  subject: (round: number) => Promise<S>,
  { rounds, warmUp, lowerIsBetter = false, log }: { rounds: number, warmUp?: { baseline: () => Promise<unknown>, subject: () => Promise<unknown> }, lowerIsBetter?: boolean, log?: (message: string) => void }
): Promise<{ baseline: B[], subject: S[], summary: Summary }> {
  if (warmUp) {
    await warmUp.baseline()
    await warmUp.subject()
  }
  const b: B[] = []
  const s: S[] = []
  for (let i = 0; i < rounds; i++) {
    b.push(await baseline(i))
    s.push(await subject(i))
    log?.(`round ${i + 1}/${rounds}: baseline ${round(b[i]!.value)}, subject ${round(s[i]!.value)}`)
  }
  return { baseline: b, subject: s, summary: summarize(b, s, { lowerIsBetter }) }
}

export interface LoadResult extends Sample {
  /** 2xx per second. */
  value: number
  non2xx: number
  errors: number
  p50Ms: number
  p99Ms: number
}

/** autocannon with the bench defaults; value = 2xx/s. */
export async function load(opts: autocannon.Options): Promise<LoadResult> {
  return loadResult(await autocannon({ connections: 50, duration: 5, ...opts }))
}

/** What the bench keeps of an autocannon run: 2xx/s, failures, latency percentiles. */
function loadResult(result: autocannon.Result): LoadResult {
  return {
    value: result['2xx'] / result.duration,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99
  }
}

/** A server under load: where to send requests and which process's CPU to read. */
export interface Target {
  url: string
  pid: number
  requests: autocannon.Request[]
}

/**
 * Loads a baseline and a subject server in alternation (interleave: 1 s
 * warm-up of each, then `rounds` pairs of `duration` s) and reads each
 * server process's CPU per request from /proc: on a shared machine CPU per
 * request is the steady number, req/s moves with the neighbours' load.
 */
export async function compare(baseline: Target, subject: Target, { duration = 3, rounds = 5, log, ...opts }: { duration?: number, rounds?: number, log?: (message: string) => void } & Partial<autocannon.Options> = {}) {
  const one = async (target: Target, seconds: number): Promise<LoadResult> => {
    const { result, cpuUs } = await childCpu(target.pid, () => load({ ...opts, url: target.url, requests: target.requests, duration: seconds }))
    return { ...result, cpuUsPerOp: result.value > 0 ? cpuUs / (result.value * seconds) : NaN }
  }
  return interleave(() => one(baseline, duration), () => one(subject, duration), {
    rounds,
    log,
    warmUp: { baseline: () => one(baseline, 1), subject: () => one(subject, 1) }
  })
}

export type Extra = Record<string, string | number | boolean | undefined>

/** One row of bench/results/latest.json. */
export interface Row {
  name: string
  /** Median of the subject over the rounds. */
  value: number
  unit: string
  baseline: string
  /** Median of the baseline over the rounds. */
  baselineValue: number
  /** Same as ratioMedian; kept for readers of older result files. */
  ratio: number
  ratioMedian: number
  ratioMin: number
  ratioMax: number
  /** Per-round ratios, in round order. */
  ratios: number[]
  rounds: number
  cpuUsPerOp?: number
  baselineCpuUsPerOp?: number
  /** cpuUsPerOp / baselineCpuUsPerOp. */
  cpuRatio?: number
  goals?: Goal[]
  /** The goals as text, e.g. `ratio >= 0.9, CPU/op <= 1.15x baseline`. */
  goal?: string
  /** All goals hold for the medians; absent when the row has no goal. */
  met?: boolean
  /** What the reader must know to trust the row (e.g. why it is not interleaved). */
  notes?: string
  extra?: Extra
}

export interface RowOptions {
  goals?: Goal[]
  notes?: string
  extra?: Extra
}

/** A row from an interleaved summary; the ratio's direction was fixed in summarize(). */
export function row(name: string, unit: string, baseline: string, s: Summary, { goals, notes, extra }: RowOptions = {}): Row {
  const cpuRatio = s.cpuUsPerOp !== undefined && s.baselineCpuUsPerOp !== undefined ? s.cpuUsPerOp / s.baselineCpuUsPerOp : undefined
  const value = round(s.value)
  const ratioMedian = round(s.ratioMedian, 3)
  return {
    name,
    value,
    unit,
    baseline,
    baselineValue: round(s.baselineValue),
    ratio: ratioMedian,
    ratioMedian,
    ratioMin: round(s.ratioMin, 3),
    ratioMax: round(s.ratioMax, 3),
    ratios: s.ratios.map((r) => round(r, 3)),
    rounds: s.rounds,
    cpuUsPerOp: s.cpuUsPerOp === undefined ? undefined : Math.round(s.cpuUsPerOp),
    baselineCpuUsPerOp: s.baselineCpuUsPerOp === undefined ? undefined : Math.round(s.baselineCpuUsPerOp),
    cpuRatio: cpuRatio === undefined ? undefined : round(cpuRatio, 3),
    goals,
    goal: goals?.map((g) => goalText(g, unit)).join(', '),
    // Checked on the unrounded medians: rounding must not flip a borderline row.
    met: goalsMet(goals, { value: s.value, ratioMedian: s.ratioMedian, cpuRatio }),
    notes,
    extra
  }
}

/** Per-round samples of one side keyed by what they measured, for `extra`: the median of each. */
export function medians<T extends object>(samples: readonly T[], keys: readonly (keyof T & string)[], digits = 1): Extra {
  const out: Extra = {}
  for (const key of keys) {
    const values = samples.map((s): unknown => s[key]).filter((v): v is number => typeof v === 'number')
    out[key] = round(median(values), digits)
  }
  return out
}

export interface RegistrationResult extends LoadResult {
  /** How many 201s (value: 201s per second). */
  count: number
}

/**
 * `POST /v1/users` under autocannon, each request with a fresh e-mail and nickname
 * (`r<tag><n>`: tags are unique per namespace); returns registrations/s and latencies.
 */
export async function registrationLoad(url: string, { tag, connections, duration, password = 'correct horse battery staple' }: { tag: string, connections: number, duration: number, password?: string }): Promise<RegistrationResult> {
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
  return { ...loadResult(result), count: result['2xx'] }
}

/** `node bench/dist/suites/<name>.js` runs that suite alone and prints its rows as JSON. */
export function runIfMain(suiteModule: NodeJS.Module, run: (ctx: SuiteContext) => Promise<Row[]>): void {
  if (require.main !== suiteModule) return
  const quick = process.argv.includes('--quick')
  run({ quick }).then((rows) => console.log(JSON.stringify(rows, null, 2)), (err: unknown) => { console.error(err); process.exit(1) })
}
