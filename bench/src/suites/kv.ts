/**
 * Key-value store: GET and PUT throughput of /v1/key/{key} under each KV_FSYNC
 * policy next to a bare Fastify route, interleaved round by round, and the
 * start-up replay time of a 1 M-record log next to reading the same file raw
 * (also interleaved: replay, raw read, replay, ...). The apis run in their
 * own database, AMQP and Redis prefixes (removed afterwards); only the log
 * file differs between them. Requests carry an API key minted by the admin
 * CLI (KV_AUTH=token, the default), so the rows include what checking it
 * costs; `kv.get.open` is the same GET with KV_AUTH=open, to show that cost.
 */
import { spawnSync } from 'node:child_process'
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type autocannon from 'autocannon'
import { encodeRecord, MAGIC, OP_PUT } from '@socialnet/api/dist/kv/record-format.js'
import { ROOT, compare, interleave, isolatedEnv, medians, roundsFor, row, runIfMain, startApi, startProcess, type BenchEnv, type Row, type Started, type SuiteContext } from '../harness'
import type { Goal } from '../stats'

const ADMIN_CLI = join(ROOT, 'apps', 'api', 'dist', 'admin', 'cli.js')
const FILE_STORE = join(ROOT, 'apps', 'api', 'dist', 'kv', 'file-store.js')
const BASELINE_SERVER = join(__dirname, '..', 'baseline-server.js')
const VALUE = Buffer.from('bench-value-0123456789')
const KEYS = 1000
const RECORDS = 1_000_000

/** The api's GET must keep 90 % of the bare route's throughput and cost at most 15 % more CPU per request. */
const GET_GOALS: Goal[] = [{ on: 'ratio', op: '>=', target: 0.9 }, { on: 'cpuRatio', op: '<=', target: 1.15 }]
const PUT_ALWAYS_GOALS: Goal[] = [{ on: 'ratio', op: '>=', target: 0.4 }]
const REPLAY_GOALS: Goal[] = [{ on: 'value', op: '<', target: 0.6 }]

type Headers = Record<string, string>

/** Cycles PUT/GET over KEYS keys so the store holds a realistic map, not one entry; `headers` go on every request. */
function requests(method: 'GET' | 'PUT', prefix: string, headers: Headers = {}): autocannon.Request[] {
  return Array.from({ length: KEYS }, (_, i) => ({ method, path: `${prefix}/bench-${i}`, headers, body: method === 'PUT' ? VALUE : undefined }))
}

/** A kv:write key in the namespace's database, minted the way an operator does; returns its request headers. */
function mintKey(databaseUrl: string): Headers {
  const out = spawnSync(process.execPath, [ADMIN_CLI, 'api-key', 'create', '--scope', 'kv:write', '--name', 'bench'],
    { env: { ...process.env, DATABASE_URL: databaseUrl }, encoding: 'utf8', timeout: 60000 })
  if (out.status !== 0) throw new Error(`minting an API key failed: ${out.error?.message || out.stderr}`)
  return { authorization: `Bearer ${out.stdout.trim()}` }
}

/** Writes a log of `records` PUTs over `records / 4` keys, the format the api replays. */
function writeLog(path: string, records: number): void {
  const fd = openSync(path, 'w')
  writeSync(fd, MAGIC)
  const batch: Buffer[] = []
  for (let i = 0; i < records; i++) {
    batch.push(encodeRecord(OP_PUT, Buffer.from(`user:${i % (records / 4)}:profile`), Buffer.from(`{"n":${i},"v":"${'x'.repeat(40)}"}`)))
    if (batch.length === 10000) { writeSync(fd, Buffer.concat(batch)); batch.length = 0 }
  }
  if (batch.length) writeSync(fd, Buffer.concat(batch))
  closeSync(fd)
}

/** Replays the log in a fresh node process (cold module cache): the seconds the store reports and its key count. */
function replay(path: string): { sec: number, keys: number } {
  const script = `
    const { FileKvStore } = require(${JSON.stringify(FILE_STORE)})
    const pino = require('pino')
    const t = process.hrtime.bigint()
    FileKvStore.open({ path: ${JSON.stringify(path)}, fsync: 'off', compactMinBytes: 1e15, compactRatio: 2, log: pino({ level: 'silent' }) })
      .then(async (s) => { const sec = Number(process.hrtime.bigint() - t) / 1e9; console.log(JSON.stringify({ sec, keys: s.size })); await s.close() })`
  const out = spawnSync(process.execPath, ['-e', script], { cwd: join(ROOT, 'apps', 'api'), encoding: 'utf8', timeout: 120000 })
  if (out.status !== 0) throw new Error(out.error?.message || out.stderr)
  return JSON.parse(out.stdout) as { sec: number, keys: number }
}

/** Reads the whole log in a fresh node process; the seconds the read took. */
function rawReadSeconds(path: string): number {
  const out = spawnSync(process.execPath, ['-e', `const t=process.hrtime.bigint();require('fs').readFileSync(${JSON.stringify(path)});console.log(Number(process.hrtime.bigint()-t)/1e9)`], { encoding: 'utf8', timeout: 60000 })
  if (out.status !== 0) throw new Error(out.error?.message || out.stderr)
  return Number(out.stdout)
}

export async function run(ctx: SuiteContext = {}): Promise<Row[]> {
  const log = ctx.log || console.log
  const ns = isolatedEnv('kv')
  try {
    return await measure(ns, { duration: ctx.quick ? 2 : 3, rounds: roundsFor(ctx.quick) }, log)
  } finally {
    await ns.cleanup()
  }
}

/** Runs `fn(api)` against a fresh api child and stops it afterwards, also when `fn` throws. */
async function withApi<T>(env: Record<string, string>, fn: (api: Started) => Promise<T>): Promise<T> {
  const api = await startApi(env)
  try {
    return await fn(api)
  } finally {
    await api.stop()
  }
}

const LOAD_EXTRA = ['p99Ms', 'non2xx'] as const

async function measure(ns: BenchEnv, { duration, rounds }: { duration: number, rounds: number }, log: (m: string) => void): Promise<Row[]> {
  const dir = ns.dir
  const rows: Row[] = []
  const auth = mintKey(ns.env.DATABASE_URL!)
  const say = (prefix: string) => (m: string) => log(`${prefix}: ${m}`)
  const baseline = await startProcess(BASELINE_SERVER, {})
  try {
    for (const [name, mode, headers] of [['kv.get', 'token', auth], ['kv.get.open', 'open', {}]] as const) {
      log(`kv: GET KV_AUTH=${mode}, ${rounds} interleaved rounds of ${duration} s`)
      const got = await withApi({ ...ns.env, KV_LOG_PATH: join(dir, `get-${mode}.log`), KV_FSYNC: 'off', KV_AUTH: mode }, async (api) => {
        for (let i = 0; i < KEYS; i++) await fetch(`${api.url}/v1/key/bench-${i}`, { method: 'PUT', body: VALUE, headers })
        return compare(
          { url: baseline.url, pid: baseline.pid, requests: requests('GET', '/const', headers) },
          { url: api.url, pid: api.pid, requests: requests('GET', '/v1/key', headers) }, { duration, rounds, log: say(name) })
      })
      rows.push(row(name, 'req/s', 'bare Fastify GET returning a constant', got.summary, {
        goals: name === 'kv.get' ? GET_GOALS : undefined,
        extra: medians(got.subject, LOAD_EXTRA)
      }))
    }

    for (const policy of ['always', 'batch', 'off'] as const) {
      const name = `kv.put.fsync-${policy}`
      log(`kv: PUT fsync=${policy}, ${rounds} interleaved rounds of ${duration} s`)
      const got = await withApi({ ...ns.env, KV_LOG_PATH: join(dir, `put-${policy}.log`), KV_FSYNC: policy }, (api) => compare(
        { url: baseline.url, pid: baseline.pid, requests: requests('PUT', '/mem', auth) },
        { url: api.url, pid: api.pid, requests: requests('PUT', '/v1/key', auth) }, { duration, rounds, log: say(name) }))
      rows.push(row(name, 'req/s', 'bare Fastify PUT into a Map', got.summary, {
        goals: policy === 'always' ? PUT_ALWAYS_GOALS : undefined,
        extra: medians(got.subject, LOAD_EXTRA)
      }))
    }
  } finally {
    await baseline.stop()
  }

  log(`kv: replay of a 1 M-record log, ${rounds} rounds interleaved with a raw read`)
  const logPath = join(dir, 'replay.log')
  writeLog(logPath, RECORDS)
  readFileSync(logPath) // warm the page cache for both measurements alike
  let keys = 0
  // The replay runs in a child process the suite waits for: nothing to read CPU from but its wall time.
  const got = await interleave(
    async () => ({ value: rawReadSeconds(logPath) }),
    async () => { const r = replay(logPath); keys = r.keys; return { value: r.sec } },
    { rounds, lowerIsBetter: true, log: say('kv.replay') })
  rows.push(row('kv.replay', 's', 'reading the same file raw', got.summary, {
    goals: REPLAY_GOALS,
    notes: 'ratio = baseline/value',
    extra: { records: RECORDS, keys, megabytes: Math.round(statSync(logPath).size / 1e6) }
  }))
  return rows
}

runIfMain(module, run)
