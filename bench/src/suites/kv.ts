'use strict'
/**
 * Key-value store: GET and PUT throughput of /v1/key/{key} under each KV_FSYNC
 * policy next to a bare Fastify route in the same run, and the start-up replay
 * time of a 1 M-record log next to reading the same file raw. The apis run
 * in their own database, AMQP and Redis prefixes (removed afterwards); only
 * the log file differs between them. Requests carry an API key minted by the
 * admin CLI (KV_AUTH=token, the default), so the rows include what checking
 * it costs; `kv.get.open` is the same GET with KV_AUTH=open, to show that cost.
 */
const { join } = require('node:path')
const { openSync, writeSync, closeSync, readFileSync, statSync } = require('node:fs')
const { spawnSync } = require('node:child_process')
const { ROOT, isolatedEnv, startApi, startProcess, compare, row } = require('../harness')

const API_RECORD_FORMAT = join(ROOT, 'apps', 'api', 'dist', 'kv', 'record-format.js')
const ADMIN_CLI = join(ROOT, 'apps', 'api', 'dist', 'admin', 'cli.js')
const VALUE = Buffer.from('bench-value-0123456789')
const KEYS = 1000

/** Cycles PUT/GET over KEYS keys so the store holds a realistic map, not one entry; `headers` go on every request. */
function requests(method, prefix, headers = {}) {
  return Array.from({ length: KEYS }, (_, i) => ({ method, path: `${prefix}/bench-${i}`, headers, body: method === 'PUT' ? VALUE : undefined }))
}

/** A kv:write key in the namespace's database, minted the way an operator does; returns its request headers. */
function mintKey(databaseUrl) {
  const out = spawnSync(process.execPath, [ADMIN_CLI, 'api-key', 'create', '--scope', 'kv:write', '--name', 'bench'],
    { env: { ...process.env, DATABASE_URL: databaseUrl }, encoding: 'utf8', timeout: 60000 })
  if (out.status !== 0) throw new Error(`minting an API key failed: ${out.error?.message || out.stderr}`)
  return { authorization: `Bearer ${out.stdout.trim()}` }
}

/** Writes a log of `records` PUTs over `records / 4` keys, the format the api replays. */
function writeLog(path, records) {
  const { encodeRecord, MAGIC, OP_PUT } = require(API_RECORD_FORMAT)
  const fd = openSync(path, 'w')
  writeSync(fd, MAGIC)
  const batch = []
  for (let i = 0; i < records; i++) {
    batch.push(encodeRecord(OP_PUT, Buffer.from(`user:${i % (records / 4)}:profile`), Buffer.from(`{"n":${i},"v":"${'x'.repeat(40)}"}`)))
    if (batch.length === 10000) { writeSync(fd, Buffer.concat(batch)); batch.length = 0 }
  }
  if (batch.length) writeSync(fd, Buffer.concat(batch))
  closeSync(fd)
}

/** Replays the log in a fresh node process (cold module cache) and returns the seconds the store reports. */
function replaySeconds(path) {
  const script = `
    const { FileKvStore } = require(${JSON.stringify(join(ROOT, 'apps', 'api', 'dist', 'kv', 'file-store.js'))})
    const pino = require('pino')
    const t = process.hrtime.bigint()
    FileKvStore.open({ path: ${JSON.stringify(path)}, fsync: 'off', compactMinBytes: 1e15, compactRatio: 2, log: pino({ level: 'silent' }) })
      .then(async (s) => { const sec = Number(process.hrtime.bigint() - t) / 1e9; console.log(JSON.stringify({ sec, keys: s.size })); await s.close() })`
  const out = spawnSync(process.execPath, ['-e', script], { cwd: join(ROOT, 'apps', 'api'), encoding: 'utf8', timeout: 120000 })
  if (out.status !== 0) throw new Error(out.error?.message || out.stderr)
  return JSON.parse(out.stdout)
}

function rawReadSeconds(path) {
  const out = spawnSync(process.execPath, ['-e', `const t=process.hrtime.bigint();require('fs').readFileSync(${JSON.stringify(path)});console.log(Number(process.hrtime.bigint()-t)/1e9)`], { encoding: 'utf8', timeout: 60000 })
  if (out.status !== 0) throw new Error(out.error?.message || out.stderr)
  return Number(out.stdout)
}

async function run(ctx = {}) {
  const log = ctx.log || console.log
  const ns = isolatedEnv('kv')
  try {
    return await measure(ns, ctx.quick ? 2 : 4, log)
  } finally {
    await ns.cleanup()
  }
}

/** Runs `fn(api)` against a fresh api child and stops it afterwards, also when `fn` throws. */
async function withApi(env, fn) {
  const api = await startApi(env)
  try {
    return await fn(api)
  } finally {
    await api.stop()
  }
}

async function measure(ns, duration, log) {
  const dir = ns.dir
  const rows = []
  const auth = mintKey(ns.env.DATABASE_URL)
  const baseline = await startProcess(join(__dirname, '..', 'baseline-server.js'), {})
  try {
    for (const [name, mode, headers] of [['kv.get', 'token', auth], ['kv.get.open', 'open', {}]]) {
      log(`kv: GET KV_AUTH=${mode}`)
      const { baseline: base, subject: get } = await withApi({ ...ns.env, KV_LOG_PATH: join(dir, `get-${mode}.log`), KV_FSYNC: 'off', KV_AUTH: mode }, async (api) => {
        for (let i = 0; i < KEYS; i++) await fetch(`${api.url}/v1/key/bench-${i}`, { method: 'PUT', body: VALUE, headers })
        return compare(
          { url: baseline.url, pid: baseline.child.pid, requests: requests('GET', '/const', headers) },
          { url: api.url, pid: api.child.pid, requests: requests('GET', '/v1/key', headers) }, { duration })
      })
      rows.push(row(name, get.rps, 'req/s', 'bare Fastify GET returning a constant', base.rps,
        { goal: name === 'kv.get' ? '>= 0.9' : undefined, extra: { p99Ms: get.p99Ms, non2xx: get.non2xx, cpuUsPerReq: get.cpuUsPerReq, baselineCpuUsPerReq: base.cpuUsPerReq } }))
    }

    for (const policy of ['always', 'batch', 'off']) {
      log(`kv: PUT fsync=${policy}`)
      const { baseline: memBase, subject: res } = await withApi({ ...ns.env, KV_LOG_PATH: join(dir, `put-${policy}.log`), KV_FSYNC: policy }, (put) => compare(
        { url: baseline.url, pid: baseline.child.pid, requests: requests('PUT', '/mem', auth) },
        { url: put.url, pid: put.child.pid, requests: requests('PUT', '/v1/key', auth) }, { duration }))
      rows.push(row(`kv.put.fsync-${policy}`, res.rps, 'req/s', 'bare Fastify PUT into a Map', memBase.rps, {
        goal: policy === 'always' ? '>= 0.4' : undefined,
        extra: { p99Ms: res.p99Ms, non2xx: res.non2xx, cpuUsPerReq: res.cpuUsPerReq, baselineCpuUsPerReq: memBase.cpuUsPerReq }
      }))
    }
  } finally {
    await baseline.stop()
  }

  log('kv: replay of a 1 M-record log')
  const logPath = join(dir, 'replay.log')
  writeLog(logPath, 1_000_000)
  readFileSync(logPath) // warm the page cache for both measurements alike
  const best = (f) => Math.min(f(), f(), f())
  let keys = 0
  const replay = best(() => { const r = replaySeconds(logPath); keys = r.keys; return r.sec })
  const raw = best(() => rawReadSeconds(logPath))
  rows.push(row('kv.replay', replay, 's', 'reading the same file raw', raw,
    { lowerIsBetter: true, goal: '< 1 s', extra: { records: 1_000_000, keys, megabytes: Math.round(statSync(logPath).size / 1e6) } }))
  return rows
}

module.exports = { run }
if (require.main === module) run().then((rows) => console.table(rows), (err) => { console.error(err); process.exit(1) })
