/**
 * Avatar uploads: MB/s through `PUT /v1/users/{id}/avatar` with 20 concurrent
 * 10 MB uploads (auth, spool to disk, decode, re-encode, store, database row,
 * outbox), and the api's memory, which must stay bounded (uploads are
 * streamed, decodes are limited to one per core). Baseline: a bare Fastify
 * route streaming the multipart file to disk, same bytes, same concurrency.
 * Both servers run side by side; after a warm-up batch of each, batches of
 * 20 uploads alternate: baseline, api, baseline, api, ...
 *
 * Memory rows: `upload.idle-rss` is the api's RSS after start-up and sign-ups,
 * before any upload (one measurement: nothing to interleave). `upload.rss-growth`
 * is, per round, the peak RSS during that round's batch (VmHWM, reset through
 * /proc/<pid>/clear_refs before each batch) minus that idle RSS.
 *
 * `node bench/dist/suites/upload.js` runs it alone; bench/dist/run.js calls run(ctx).
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import sharp from 'sharp'
import { request } from 'undici'
import { childCpu, interleave, isolatedEnv, roundsFor, row, runIfMain, startApi, startProcess, type Row, type Started, type SuiteContext } from '../harness'
import { summarize, type Goal } from '../stats'

const CONCURRENCY = 20
const UPLOAD_BYTES = 10 * 1000 * 1000
const BASELINE_SERVER = join(__dirname, '..', 'upload-baseline-server.js')
const GROWTH_GOALS: Goal[] = [{ on: 'value', op: '<', target: 100 }]
const IDLE_GOALS: Goal[] = [{ on: 'value', op: '<', target: 120 }]

interface Body { payload: Buffer, contentType: string }
interface UploadTarget { url: string, headers: Record<string, string> }

/** A 3000x3000 noise JPEG (9 MP: real decode work) padded with trailing bytes to exactly 10 MB. */
async function tenMegabyteJpeg(): Promise<Buffer> {
  const size = 3000
  const image = await sharp(randomBytes(size * size * 3), { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: 90 }).toBuffer()
  if (image.length > UPLOAD_BYTES) return image.subarray(0, UPLOAD_BYTES)
  return Buffer.concat([image, Buffer.alloc(UPLOAD_BYTES - image.length)])
}

function multipart(data: Buffer): Body {
  const boundary = `----bench${randomBytes(8).toString('hex')}`
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`)
  const payload = Buffer.concat([head, data, Buffer.from(`\r\n--${boundary}--\r\n`)])
  return { payload, contentType: `multipart/form-data; boundary=${boundary}` }
}

/** A memory field of /proc/<pid>/status in MB (Linux only): VmRSS now, VmHWM the peak since start or the last reset. */
function memoryMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match ? Number(match[1]) / 1024 : NaN
}

/** Resets VmHWM to the current RSS, so the next peak read is this batch's alone. */
function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5')
}

/** One batch of CONCURRENCY uploads at once to one server: MB/s, CPU µs per upload, peak RSS during the batch. */
async function batch(server: Started, targets: readonly UploadTarget[], body: Body) {
  resetPeak(server.pid)
  const started = process.hrtime.bigint()
  const { cpuUs } = await childCpu(server.pid, () => Promise.all(targets.map(async ({ url, headers }) => {
    const res = await request(url, { method: 'PUT', body: body.payload, headers: { 'content-type': body.contentType, ...headers }, headersTimeout: 120000, bodyTimeout: 120000 })
    const text = await res.body.text()
    if (res.statusCode !== 201) throw new Error(`upload answered ${res.statusCode}: ${text}`)
  })))
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return { value: (targets.length * UPLOAD_BYTES) / 1e6 / seconds, cpuUsPerOp: cpuUs / targets.length, peakRssMb: memoryMb(server.pid, 'VmHWM') }
}

/** CONCURRENCY users on the api, each signed in: one avatar target each. */
async function apiTargets(api: Started, tag: string): Promise<UploadTarget[]> {
  const targets: UploadTarget[] = []
  const post = (path: string, body: unknown) => fetch(`${api.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  for (let i = 0; i < CONCURRENCY; i++) {
    const nickname = `bench${tag}${i}`
    const password = 'bench password 123'
    const { id } = await (await post('/v1/users', { email: `${nickname}@example.com`, nickname, password })).json() as { id: string }
    const { token } = await (await post('/v1/sessions', { login: nickname, password })).json() as { token: string }
    targets.push({ url: `${api.url}/v1/users/${id}/avatar`, headers: { authorization: `Bearer ${token}` } })
  }
  return targets
}

export async function run(ctx: SuiteContext = {}): Promise<Row[]> {
  const log = ctx.log || ((m: string) => console.error(m))
  const rounds = roundsFor(ctx.quick)
  const image = await tenMegabyteJpeg()
  const body = multipart(image)
  // After the image: nothing to remove if encoding it fails. The api declares its own topology.
  const ns = isolatedEnv('upload')
  let api: Started | undefined
  let baseline: Started | undefined
  try {
    const raw = baseline = await startProcess(BASELINE_SERVER, { STORAGE_DIR: join(ns.dir, 'raw') })
    const app = api = await startApi(ns.env)
    const rawTargets = Array.from({ length: CONCURRENCY }, () => ({ url: `${raw.url}/raw`, headers: {} }))
    const targets = await apiTargets(app, ns.tag)
    const idle = { api: memoryMb(app.pid, 'VmRSS'), baseline: memoryMb(raw.pid, 'VmRSS') }
    log(`upload: idle RSS api ${idle.api.toFixed(0)} MB, baseline ${idle.baseline.toFixed(0)} MB; ${rounds} interleaved batches of ${CONCURRENCY} x 10 MB`)
    const got = await interleave(() => batch(raw, rawTargets, body), () => batch(app, targets, body), {
      rounds,
      log: (m) => log(`upload: ${m}`),
      warmUp: { baseline: () => batch(raw, rawTargets, body), subject: () => batch(app, targets, body) }
    })
    const growth = summarize(
      got.baseline.map((r) => ({ value: r.peakRssMb - idle.baseline })),
      got.subject.map((r) => ({ value: r.peakRssMb - idle.api })),
      { lowerIsBetter: true })
    const idleSummary = summarize([{ value: idle.baseline }], [{ value: idle.api }], { lowerIsBetter: true })
    return [
      row('upload', 'MB/s', 'bare fastify multipart -> disk', got.summary, {
        notes: 'CPU per 10 MB upload, each server process',
        extra: { concurrency: CONCURRENCY, uploadMB: UPLOAD_BYTES / 1e6 }
      }),
      row('upload.rss-growth', 'MB', 'bare fastify multipart -> disk', growth, {
        goals: GROWTH_GOALS,
        notes: 'per round: peak RSS during the batch minus idle RSS; ratio = baseline/value',
        extra: { peakRssMb: Math.round(Math.max(...got.subject.map((r) => r.peakRssMb))), baselinePeakRssMb: Math.round(Math.max(...got.baseline.map((r) => r.peakRssMb))) }
      }),
      row('upload.idle-rss', 'MB', 'bare fastify multipart -> disk', idleSummary, {
        goals: IDLE_GOALS,
        notes: 'one reading after start-up, before any upload: not interleavable; ratio = baseline/value'
      })
    ]
  } finally {
    if (baseline) await baseline.stop().catch(() => {})
    if (api) await api.stop().catch(() => {})
    await ns.cleanup()
  }
}

runIfMain(module, run)
