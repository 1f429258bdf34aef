/**
 * What every fault shares: an isolated namespace (database, AMQP prefix,
 * Redis prefix, temp dir) removed afterwards, the built apps as child
 * processes that can be SIGKILLed, a real SMTP server that counts mails by
 * Message-ID and can stall or refuse, and polling with a deadline.
 *
 * Every child started here is remembered, so an interrupted run (Ctrl-C,
 * crash) kills them all on the way out.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { SMTPServer } from 'smtp-server'
import { REGISTRATION_LIMITS_OFF } from '@socialnet/testing'
import { ROOT, freePort, isolatedEnv, type BenchEnv } from '../harness'

export { AMQP_URL, REDIS_URL, PG_ADMIN_URL, freePort } from '../harness'

/** Short retry delays so a fault's retries finish within the suite's time bound. */
export const RETRY_DELAYS_MS = '200,500,1000,2000'

/** What a fault reports: `lost` must be 0, `failed` at most the fault's `failedAllowed`. */
export interface FaultOutcome {
  accepted: number
  delivered: number
  lost: number
  duplicated: number
  failed?: number
  notes?: string
}

export interface Fault {
  name: string
  /** What is injected, in words, for the table. */
  fault: string
  failedAllowed?: number
  run(ctx: { quick: boolean, log: (message: string) => void }): Promise<FaultOutcome>
}

const children = new Map<ChildProcessWithoutNullStreams, NodeJS.Signals>()

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` every 100 ms until it is truthy or `timeoutMs` passed; resolves with the last value. */
export async function waitUntil<T>(check: () => T | Promise<T>, timeoutMs: number): Promise<T> {
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
export function namespace(fault: string): BenchEnv {
  const ns = isolatedEnv(fault, { scope: 'faults', retryDelaysMs: RETRY_DELAYS_MS.split(',').map(Number) })
  return { ...ns, env: { ...ns.env, RATE_LIMIT_RPS: '0', ...REGISTRATION_LIMITS_OFF, OUTBOX_POLL_MS: '500', LOG_LEVEL: 'warn' } }
}

export interface Child {
  name: string
  child: ChildProcessWithoutNullStreams
  exited: Promise<number | NodeJS.Signals | null>
  running(): boolean
  /** The last 8000 characters of stdout and stderr together. */
  readonly output: string
  kill(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals | null>
  stop(): Promise<number | NodeJS.Signals | null>
}

export interface ChildOptions {
  args?: string[]
  command?: string
  script?: string
  stopTimeoutMs?: number
  forceSignal?: NodeJS.Signals
}

/**
 * Starts `node <script>` (a path under the repo, or apps/<name>/dist/server.js
 * for 'api', 'mailer', 'worker'); `kill(signal)` and `stop()` (SIGTERM, then
 * `forceSignal` after `stopTimeoutMs`) resolve once it exited. stderr is kept
 * for error messages. A supervisor of its own children (scripts/stack.js)
 * takes a second SIGTERM as its force signal: SIGKILL would orphan them.
 */
export function startChild(name: string, env: Record<string, string | undefined>, { args = [], command = process.execPath, script, stopTimeoutMs = 15000, forceSignal = 'SIGKILL' }: ChildOptions = {}): Child {
  const path = script ?? join(ROOT, 'apps', name, 'dist', 'server.js')
  const child = spawn(command, command === process.execPath ? [path, ...args] : args, {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: 'pipe'
  })
  let output = ''
  const keep = (chunk: Buffer) => { output = (output + chunk.toString()).slice(-8000) }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  children.set(child, forceSignal)
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once('exit', (code, signal) => { children.delete(child); resolve(code ?? signal) }))
  const running = () => child.exitCode === null && child.signalCode === null
  return {
    name,
    child,
    exited,
    running,
    get output() { return output },
    async kill(signal: NodeJS.Signals = 'SIGKILL') { if (running()) child.kill(signal); return exited },
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

export type Api = Child & { url: string }

/** The built api (of this checkout, or of another one's `root`) on a free port, resolved once /ready answers 200. */
export async function startApi(env: Record<string, string | undefined>, port?: number, root = ROOT): Promise<Api> {
  const apiPort = port ?? await freePort()
  const api = Object.assign(startChild('api', { ...env, HOST: '127.0.0.1', PORT: String(apiPort) }, { script: join(root, 'apps', 'api', 'dist', 'server.js') }),
    { url: `http://127.0.0.1:${apiPort}` })
  const ready = await waitUntil(async () => {
    if (!api.running()) return true
    return fetch(`${api.url}/ready`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status === 200, () => false)
  }, 30000)
  if (!ready || !api.running()) { await api.kill(); throw new Error(`api did not become ready: ${api.output}`) }
  return api
}

export interface SmtpSink {
  /** 'refuse': 421 at connect, 451 at MAIL FROM; 'stall': MAIL FROM answered only after stallMs, with a 451. */
  mode: 'accept' | 'refuse' | 'stall'
  stallMs: number
  refused: number
  stalled: number
  total: number
  byId: Map<string, number>
  byRecipient: Map<string, number>
  url: string
  close(): Promise<void>
}

/** An SMTP reply with a code, as smtp-server reads it off the error. */
function smtpError(message: string, responseCode: number): Error {
  return Object.assign(new Error(message), { responseCode })
}

/**
 * A real SMTP server. `mode` decides each mail: 'accept', 'refuse' (421 at
 * connect, 451 at MAIL FROM), or 'stall' (MAIL FROM answered only after
 * `stallMs`, with a 451, by which time the client gave up). Counts accepted
 * mails by the id inside their Message-ID and by recipient.
 */
export async function startSmtpSink(): Promise<SmtpSink> {
  const byId = new Map<string, number>()
  const byRecipient = new Map<string, number>()
  const state = { mode: 'accept' as SmtpSink['mode'], stallMs: 10000, refused: 0, stalled: 0, total: 0 }
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onConnect(_session, callback) {
      if (state.mode !== 'refuse') return callback()
      state.refused++
      callback(smtpError('service not available, try later', 421))
    },
    onMailFrom(_address, _session, callback) {
      if (state.mode === 'refuse') { state.refused++; return callback(smtpError('try again later', 451)) }
      if (state.mode === 'stall') { state.stalled++; setTimeout(() => callback(smtpError('stalled', 451)), state.stallMs); return }
      callback()
    },
    onData(stream, session, callback) {
      let head = ''
      stream.on('data', (chunk: Buffer) => { if (head.length < 8192) head += chunk.toString('latin1') })
      stream.on('end', () => {
        const id = /^Message-ID:\s*<([^@>]+)@/im.exec(head)?.[1] ?? `no-id-${state.total}`
        byId.set(id, (byId.get(id) || 0) + 1)
        for (const { address } of session.envelope.rcptTo) byRecipient.set(address, (byRecipient.get(address) || 0) + 1)
        state.total++
        callback()
      })
    }
  })
  // A client killed mid-session (the point of some faults) resets its connection: not a sink failure.
  server.on('error', () => {})
  server.listen(0, '127.0.0.1')
  await once(server.server, 'listening')
  const url = `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`
  return Object.assign(state, { byId, byRecipient, url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) })
}

/** accepted/delivered/lost/duplicated from what was accepted (ids) and how often each arrived (counts). */
export function tally(acceptedIds: readonly string[], counts: ReadonlyMap<string, number>): FaultOutcome {
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
export function killAll(): void {
  for (const [child, forceSignal] of children) child.kill(forceSignal)
}

/** Runs `worker(i)` over 0..n-1 with `concurrency` at a time. */
export async function pool(n: number, concurrency: number, worker: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => { while (next < n) await worker(next++) }))
}
