/**
 * Key-value store: GET and PUT throughput of /v1/key/{key} under each KV_FSYNC
 * policy next to a bare Fastify route, interleaved round by round, and the
 * start-up replay time of a 1 M-record log next to reading the same file raw
 * (also interleaved: raw read, replay, raw read, replay, ...). The log is
 * format v2, written through the store's own writer; each round also replays
 * the same PUTs as a v1 log (notes: v1Seconds, v1CpuMs). The apis run in their
 * own database, AMQP and Redis prefixes (removed afterwards); only the log
 * file differs between them. Requests carry an API key minted by the admin
 * CLI (KV_AUTH=token, the default), so the rows include what checking it
 * costs; `kv.get.open` is the same GET with KV_AUTH=open, to show that cost.
 */
import { spawnSync } from 'node:child_process'
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type autocannon from 'autocannon'
import pino from 'pino'
import { encodeRecordV1, MAGIC_V1, OP_PUT } from '@socialnet/api/dist/kv/record-format.js'
import { FileKvStore } from '@socialnet/api/dist/kv/file-store.js'
import { ROOT, compare, interleave, isolatedEnv, medians, roundsFor, row, runIfMain, startApi, startProcess, type BenchEnv, type Row, type Started, type SuiteContext } from '../harness'
import { median, type Goal } from '../stats'

const ADMIN_CLI = join(ROOT, 'apps', 'api', 'dist', 'admin', 'cli.js')
const FILE_STORE = join(ROOT, 'apps', 'api', 'dist', 'kv', 'file-store.js')
const BASELINE_SERVER = join(__dirname, '..', 'baseline-server.js')
const VALUE = Buffer.from('bench-value-0123456789')
const KEYS = 1000
const RECORDS = 1_000_000
/** PUTs in flight together while the replay log is written: the records of one group commit, one v2 batch. */
const GROUP_COMMIT = 100

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

const replayKey = (i: number, records: number): string => `user:${i % (records / 4)}:profile`
const replayValue = (i: number): Buffer => Buffer.from(`{"n":${i},"v":"${'x'.repeat(40)}"}`)

/**
 * Writes a log of `records` PUTs over `records / 4` keys through the store's
 * own writer (a v2 log): GROUP_COMMIT PUTs at a time, so each group commit,
 * and so each batch, holds that many records, as under that many concurrent
 * clients.
 */
async function writeLog(path: string, records: number): Promise<void> {
  const store = await FileKvStore.open({ path, fsync: 'off', compactMinBytes: Number.MAX_SAFE_INTEGER, compactRatio: 2, log: pino({ level: 'silent' }) })
  try {
    for (let i = 0; i < records; i += GROUP_COMMIT) {
      const writes: Array<Promise<void>> = []
      for (let j = i; j < Math.min(records, i + GROUP_COMMIT); j++) writes.push(store.put(replayKey(j, records), replayValue(j)))
      await Promise.all(writes)
    }
  } finally {
    await store.close()
  }
}

/** The same PUTs as a v1 log (a record per PUT, each with its own checksums), as releases before v2 wrote it. */
function writeV1Log(path: string, records: number): void {
  const fd = openSync(path, 'w')
  writeSync(fd, MAGIC_V1)
  const batch: Buffer[] = []
  for (let i = 0; i < records; i++) {
    batch.push(encodeRecordV1(OP_PUT, Buffer.from(replayKey(i, records)), replayValue(i)))
    if (batch.length === 10000) { writeSync(fd, Buffer.concat(batch)); batch.length = 0 }
  }
  if (batch.length) writeSync(fd, Buffer.concat(batch))
  closeSync(fd)
}

/** `BENCH_CPU_PROF=<dir>`: a V8 CPU profile of the replay child too. */
function profileFlags(): string[] {
  const dir = process.env.BENCH_CPU_PROF
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []
}

/**
 * Replays the log in a fresh node process (cold module cache): the seconds the
 * store's open took, the CPU (user + system, all threads) it took in µs, and the key count.
 */
function replay(path: string): { sec: number, cpuUs: number, keys: number } {
  const script = `
    const { FileKvStore } = require(${JSON.stringify(FILE_STORE)})
    const pino = require('pino')
    const t = process.hrtime.bigint()
    const cpu = process.cpuUsage()
    FileKvStore.open({ path: ${JSON.stringify(path)}, fsync: 'off', compactMinBytes: 1e15, compactRatio: 2, log: pino({ level: 'silent' }) })
      .then(async (s) => {
        const sec = Number(process.hrtime.bigint() - t) / 1e9
        const used = process.cpuUsage(cpu)
        console.log(JSON.stringify({ sec, cpuUs: used.user + used.system, keys: s.size }))
        await s.close()
      })`
  const out = spawnSync(process.execPath, [...profileFlags(), '-e', script], { cwd: join(ROOT, 'apps', 'api'), encoding: 'utf8', timeout: 120000 })
  if (out.status !== 0) throw new Error(out.error?.message || out.stderr)
  return JSON.parse(out.stdout) as { sec: number, cpuUs: number, keys: number }
}

/** Reads the whole log in a fresh node process; the seconds the read took and its CPU in µs. */
function rawRead(path: string): { sec: number, cpuUs: number } {
  const script = `const t = process.hrtime.bigint(); const cpu = process.cpuUsage(); require('fs').readFileSync(${JSON.stringify(path)});
    const used = process.cpuUsage(cpu)
    console.log(JSON.stringify({ sec: Number(process.hrtime.bigint() - t) / 1e9, cpuUs: used.user + used.system }))`
  const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 })
  if (out.status !== 0) throw new Error(out.error?.message || out.stderr)
  return JSON.parse(out.stdout) as { sec: number, cpuUs: number }
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

  log(`kv: replay of a 1 M-record log (v2, ${GROUP_COMMIT} records per batch), ${rounds} rounds interleaved with a raw read, each also replaying the same PUTs as a v1 log`)
  const logPath = join(dir, 'replay.log')
  const v1Path = join(dir, 'replay-v1.log')
  await writeLog(logPath, RECORDS)
  writeV1Log(v1Path, RECORDS)
  // Warm the page cache for every measurement alike.
  readFileSync(logPath)
  readFileSync(v1Path)
  let keys = 0
  // Each round also replays the same PUTs as a v1 log right after the v2 one, under the same load:
  // a log stays v1 until its first compaction, so that is the start-up an upgraded deployment sees.
  const v1: Array<{ sec: number, cpuUs: number, keys: number }> = []
  // The replay runs in a child process the suite waits for; the child reports its own CPU (op = one replay).
  const got = await interleave(
    async () => { const r = rawRead(logPath); return { value: r.sec, cpuUsPerOp: r.cpuUs } },
    async () => {
      const r = replay(logPath)
      keys = r.keys
      v1.push(replay(v1Path))
      return { value: r.sec, cpuUsPerOp: r.cpuUs }
    },
    { rounds, lowerIsBetter: true, log: say('kv.replay') })
  if (v1.some((r) => r.keys !== keys)) throw new Error(`the v1 log replayed to ${v1[0]!.keys} keys, the v2 log to ${keys}`)
  rows.push(row('kv.replay', 's', 'reading the same file raw', got.summary, {
    goals: REPLAY_GOALS,
    notes: 'ratio = baseline/value; CPU per op = CPU of one replay (one raw read), reported by each child',
    extra: {
      records: RECORDS,
      keys,
      recordsPerBatch: GROUP_COMMIT,
      megabytes: Math.round(statSync(logPath).size / 1e6),
      v1Seconds: Math.round(median(v1.map((r) => r.sec)) * 1000) / 1000,
      v1CpuMs: Math.round(median(v1.map((r) => r.cpuUs)) / 1000),
      v1Megabytes: Math.round(statSync(v1Path).size / 1e6)
    }
  }))
  return rows
}

runIfMain(module, run)
