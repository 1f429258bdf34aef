import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { request as httpsRequest } from 'node:https'
import { Agent, request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import pino from 'pino'
import { testEnv, type TestEnv } from '../helper'
import { spawnApi } from './spawn-api'
import { FileKvStore } from '../../src/kv/file-store'

// Start-up failures are in startup.test.ts.
describe('api process: shutdown, crash and TLS', () => {
  let env: TestEnv
  beforeAll(() => { env = testEnv() })
  afterAll(async () => { await env.cleanup() })

  test('SIGTERM: in-flight requests finish, the log is flushed, exit 0', async () => {
    const path = join(env.dir, 'graceful.log')
    // These process tests write without keys: KV_AUTH=open, which must warn at start.
    // No drain wait (its own test is below): fetch keeps its connections open, which would hold
    // the drain for its whole time; what this test is about is the requests already in flight.
    const api = await spawnApi({ ...env.env, KV_LOG_PATH: path, KV_FSYNC: 'batch', KV_AUTH: 'open', SHUTDOWN_DRAIN_MS: '0' })
    expect(api.output()).toMatch(/"level":40.*KV_AUTH=open: anyone who reaches the api may read, overwrite and delete every key/)
    const puts = Array.from({ length: 50 }, (_, i) => fetch(`${api.url}/v1/key/g${i}`, { method: 'PUT', body: `v${i}` }))
    const first = await puts[0]!
    expect(first.status).toBe(201)
    api.child.kill('SIGTERM')
    const statuses = await Promise.all(puts.map((p) => p.then((r) => r.status, () => 'refused')))
    const code = await api.exited
    expect({ code, log: code === 0 ? '' : api.output().slice(-3000) }).toEqual({ code: 0, log: '' })
    expect(api.output()).toContain('shutting down gracefully')
    const store = await FileKvStore.open({ path, fsync: 'always', compactMinBytes: 1e12, compactRatio: 2, log: pino({ level: 'silent' }) })
    for (const [i, s] of statuses.entries()) {
      if (s === 201) expect((await store.get(`g${i}`))?.toString()).toBe(`v${i}`)
    }
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThan(0)
    await store.close()
  })

  test('SIGTERM: the default upload folder (named after the pid) goes with the process; one given in UPLOAD_TMP_DIR stays', async () => {
    const { UPLOAD_TMP_DIR: given, ...rest } = env.env
    const api = await spawnApi({ ...rest, SHUTDOWN_DRAIN_MS: '0' })
    const own = join(tmpdir(), `socialnet-uploads-${api.child.pid}`)
    mkdirSync(own, { recursive: true })
    writeFileSync(join(own, 'upload-left'), 'x')
    api.child.kill('SIGTERM')
    expect(await api.exited).toBe(0)
    expect(existsSync(own)).toBe(false)
    expect(given).toBeDefined()
    const again = await spawnApi({ ...env.env, SHUTDOWN_DRAIN_MS: '0' })
    mkdirSync(given!, { recursive: true })
    again.child.kill('SIGTERM')
    expect(await again.exited).toBe(0)
    expect(existsSync(given!)).toBe(true)
  })

  test('SIGTERM behind a proxy: new connections refused, an idle keep-alive one still served (Connection: close)', async () => {
    const api = await spawnApi({ ...env.env, SHUTDOWN_DRAIN_MS: '3000', SHUTDOWN_GRACE_MS: '8000' })
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const get = () => new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      httpRequest(`${api.url}/health`, { agent }, (res) => {
        res.resume().on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection }))
      }).on('error', reject).end()
    })
    try {
      expect(await get()).toEqual({ status: 200, connection: 'keep-alive' })
      api.child.kill('SIGTERM')
      while (!api.output().includes('shutting down gracefully')) await new Promise((resolve) => setTimeout(resolve, 20))
      await new Promise((resolve) => setTimeout(resolve, 200))
      // A proxy retries a refused connect on another replica, whatever the method.
      const { port } = new URL(api.url)
      const refused = await new Promise<string>((resolve) => {
        connect(Number(port), '127.0.0.1').on('connect', function (this: import('node:net').Socket) { this.destroy(); resolve('connected') })
          .on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
      })
      expect(refused).toBe('ECONNREFUSED')
      // The proxy's idle connection was not closed under it: its next request is served, not 503.
      expect(await get()).toEqual({ status: 200, connection: 'close' })
      expect(await api.exited).toBe(0)
    } finally {
      agent.destroy()
      api.child.kill('SIGKILL')
    }
  })

  test('kill -9 during writes with KV_FSYNC=always: every acknowledged write survives', async () => {
    const path = join(env.dir, 'crash.log')
    const api = await spawnApi({ ...env.env, KV_LOG_PATH: path, KV_FSYNC: 'always', KV_AUTH: 'open' })
    const acked = new Map<string, string>()
    let stop = false
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const key = `w${w}-${i}`
        const value = `${key}:${'x'.repeat(i % 97)}\t\n\u0000`
        try {
          const res = await fetch(`${api.url}/v1/key/${encodeURIComponent(key)}`, { method: 'PUT', body: value })
          if (res.status === 201) acked.set(key, value)
        } catch {
          return // the server is gone
        }
      }
    }
    const writers = Array.from({ length: 16 }, (_, w) => writer(w))
    while (acked.size < 400) await new Promise((resolve) => setTimeout(resolve, 5))
    api.child.kill('SIGKILL')
    stop = true
    await Promise.all(writers)
    expect(await api.exited).toBe('SIGKILL')

    const store = await FileKvStore.open({ path, fsync: 'always', compactMinBytes: 1e12, compactRatio: 2, log: pino({ level: 'silent' }) })
    const missing: string[] = []
    for (const [k, v] of acked) if ((await store.get(k))?.toString() !== v) missing.push(k)
    expect(missing).toEqual([])
    await store.close()
  })

  test('with TLS_CERT/TLS_KEY the api serves HTTPS (self-signed certificate)', async () => {
    const cert = join(env.dir, 'cert.pem')
    const key = join(env.dir, 'key.pem')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' })
    const api = await spawnApi({ ...env.env, TLS_CERT: cert, TLS_KEY: key, SHUTDOWN_DRAIN_MS: '0' }, 'https')
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest(`${api.url}/health`, { ca: readFileSync(cert) }, (res) => {
          let data = ''
          res.on('data', (d) => { data += d })
          res.on('end', () => resolve(`${res.statusCode} ${data}`))
        })
        req.on('error', reject)
        req.end()
      })
      expect(body).toBe('200 {"status":"ok"}')
      // KV_AUTH defaults to token: no open-store warning.
      expect(api.output()).not.toContain('KV_AUTH=open')
    } finally {
      api.child.kill('SIGTERM')
      await api.exited
    }
  })
})
