'use strict'
/**
 * Avatar uploads: MB/s through `PUT /v1/users/{id}/avatar` with 20 concurrent
 * 10 MB uploads (auth, spool to disk, decode, re-encode, store, database row,
 * outbox), and the api's peak RSS while doing it, which must stay bounded
 * (uploads are streamed, decodes are limited to one per core). Baseline, same
 * run, same bytes, same concurrency: a bare Fastify route streaming the
 * multipart file to disk.
 *
 * `node bench/suites/upload.js` runs it alone; bench/run.js calls run(ctx).
 */
const { randomBytes } = require('node:crypto')
const { readFileSync } = require('node:fs')
const { join } = require('node:path')
const { request } = require('undici')
const sharp = require('sharp')
const { ROOT, isolatedEnv, startApi, startProcess, row, runIfMain } = require('../harness')
const CONCURRENCY = 20
const UPLOAD_BYTES = 10 * 1000 * 1000

/** A 3000x3000 noise JPEG (9 MP: real decode work) padded with trailing bytes to exactly 10 MB. */
async function tenMegabyteJpeg() {
  const size = 3000
  const image = await sharp(randomBytes(size * size * 3), { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: 90 }).toBuffer()
  if (image.length > UPLOAD_BYTES) return image.subarray(0, UPLOAD_BYTES)
  return Buffer.concat([image, Buffer.alloc(UPLOAD_BYTES - image.length)])
}

function multipart(data) {
  const boundary = `----bench${randomBytes(8).toString('hex')}`
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`)
  const payload = Buffer.concat([head, data, Buffer.from(`\r\n--${boundary}--\r\n`)])
  return { payload, contentType: `multipart/form-data; boundary=${boundary}` }
}

/** A memory field of /proc/<pid>/status in MB (Linux only): VmRSS now, VmHWM the peak so far. */
function memoryMb(pid, field) {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match ? Number(match[1]) / 1024 : NaN
}
const peakRssMb = (pid) => memoryMb(pid, 'VmHWM')
const rssMb = (pid) => memoryMb(pid, 'VmRSS')

/** `rounds` x CONCURRENCY uploads, CONCURRENCY at a time; returns MB/s of uploaded bytes. */
async function uploadRounds(rounds, targets, body) {
  const started = process.hrtime.bigint()
  for (let r = 0; r < rounds; r++) {
    await Promise.all(targets.map(async ({ url, headers }) => {
      const res = await request(url, { method: 'PUT', body: body.payload, headers: { 'content-type': body.contentType, ...headers }, headersTimeout: 120000, bodyTimeout: 120000 })
      const text = await res.body.text()
      if (res.statusCode !== 201) throw new Error(`upload answered ${res.statusCode}: ${text}`)
    }))
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return (rounds * targets.length * UPLOAD_BYTES) / 1e6 / seconds
}

async function run(ctx = {}) {
  const log = ctx.log || ((m) => console.error(m))
  const rounds = ctx.quick ? 1 : 3
  const image = await tenMegabyteJpeg()
  const body = multipart(image)
  // After the image: nothing to remove if encoding it fails. The api declares its own topology.
  const ns = isolatedEnv('upload')
  const tag = ns.tag
  let api
  let baseline
  try {
    baseline = await startProcess(join(ROOT, 'bench', 'upload-baseline-server.js'), { STORAGE_DIR: join(ns.dir, 'raw') })
    const rawTargets = Array.from({ length: CONCURRENCY }, () => ({ url: `${baseline.url}/raw`, headers: {} }))
    await uploadRounds(1, rawTargets, body) // warm-up
    const baselineMbps = await uploadRounds(rounds, rawTargets, body)
    const baselinePeak = peakRssMb(baseline.child.pid)
    await baseline.stop()
    log(`upload baseline: ${baselineMbps.toFixed(1)} MB/s, peak RSS ${baselinePeak.toFixed(0)} MB`)

    api = await startApi(ns.env)
    const targets = []
    for (let i = 0; i < CONCURRENCY; i++) {
      const nickname = `bench${tag}${i}`
      const password = 'bench password 123'
      const created = await fetch(`${api.url}/v1/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: `${nickname}@example.com`, nickname, password }) })
      const { id } = await created.json()
      const login = await fetch(`${api.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: nickname, password }) })
      const { token } = await login.json()
      targets.push({ url: `${api.url}/v1/users/${id}/avatar`, headers: { authorization: `Bearer ${token}` } })
    }
    const idleRss = rssMb(api.child.pid)
    await uploadRounds(1, targets, body) // warm-up
    const mbps = await uploadRounds(rounds, targets, body)
    const peak = peakRssMb(api.child.pid)
    log(`upload api: ${mbps.toFixed(1)} MB/s, idle RSS ${idleRss.toFixed(0)} MB, peak RSS ${peak.toFixed(0)} MB`)
    return [row('upload', mbps, 'MB/s', 'bare fastify multipart -> disk', baselineMbps, {
      goal: 'peak RSS bounded (<< 20 x 10 MB in flight)',
      extra: { concurrency: CONCURRENCY, uploadMB: UPLOAD_BYTES / 1e6, peakRssMb: Math.round(peak), idleRssMb: Math.round(idleRss), baselinePeakRssMb: Math.round(baselinePeak) }
    })]
  } finally {
    if (baseline) await baseline.stop().catch(() => {})
    if (api) await api.stop().catch(() => {})
    await ns.cleanup()
  }
}

module.exports = { run }

runIfMain(module, run)
