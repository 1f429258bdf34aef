import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { blankPng, freePort, isolatedEnv, multipart, waitForValue, type IsolatedEnv } from '@socialnet/testing'

const ROOT = join(__dirname, '..', '..', '..', '..')

interface Started {
  child: ChildProcess
  output: () => string
}

/** `npm run <script>` from the repository root, as the README says, in a process group of its own (npm, then node). */
function npmRun(script: string, env: Record<string, string>): Started {
  const child = spawn('npm', ['run', '-s', script], { cwd: ROOT, env: { ...process.env, ...env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
  return { child, output: () => out }
}

async function stop(started: Started | undefined): Promise<void> {
  const child = started?.child
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  // 'close', not 'exit': npm may be gone while the app it started still holds the pipes, shutting down.
  const exited = new Promise((resolve) => child.once('close', resolve))
  process.kill(-child.pid!, 'SIGTERM')
  const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL') } catch { /* gone */ } }, 10_000)
  await exited
  clearTimeout(timer)
}

// Each app resolves a relative path against the folder it is started in: started apart, the api and
// the worker must still mean the same ./data (they once meant apps/api/data and apps/worker/data, and
// every thumbnail was "being made" for ever).
describe('npm run start:api and npm run start:worker, started apart, share ./data', () => {
  let iso: IsolatedEnv
  let api: Started | undefined
  let worker: Started | undefined
  let relative: string

  beforeAll(() => {
    iso = isolatedEnv('startscripts')
    relative = join('data', `test-start-scripts-${iso.tag}`)
  })
  afterAll(async () => {
    await stop(api)
    await stop(worker)
    rmSync(join(ROOT, relative), { recursive: true, force: true })
    await iso.cleanup()
  })

  test('an avatar uploaded to the api gets its thumbnails from the worker', async () => {
    const port = await freePort()
    const env = {
      ...iso.env,
      STORAGE_DIR: `./${relative}/images`,
      KV_LOG_PATH: `./${relative}/kv.log`,
      UPLOAD_TMP_DIR: `./${relative}/uploads`,
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`
    }
    api = npmRun('start:api', env)
    worker = npmRun('start:worker', env)
    const url = `http://127.0.0.1:${port}`
    await waitForValue(() => fetch(`${url}/ready`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status === 200 || undefined, () => undefined),
      `the api to be ready:\n${api.output()}`)

    const tag = iso.tag
    const user = { email: `start-${tag}@example.com`, nickname: `start_${tag}`, password: 'correct horse battery staple' }
    const created = await fetch(`${url}/v1/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(user) })
    expect(created.status).toBe(201)
    const { id } = await created.json() as { id: string }
    const session = await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: user.nickname, password: user.password }) })
    expect(session.status).toBe(201)
    const { token } = await session.json() as { token: string }
    const body = multipart({ filename: 'me.png', contentType: 'image/png', data: blankPng(64, 64) })
    const uploaded = await fetch(`${url}/v1/users/${id}/avatar`, { method: 'PUT', headers: { ...body.headers, authorization: `Bearer ${token}` }, body: body.payload })
    expect(uploaded.status).toBe(201)

    const thumbnails = await waitForValue(async () => {
      const res = await fetch(`${url}/v1/users/${id}/avatar`)
      const avatar = await res.json() as { thumbnails: { status: string; urls: Record<string, string> } }
      return avatar.thumbnails.status === 'ready' ? avatar.thumbnails.urls : undefined
    }, `thumbnails made by the worker:\n${worker.output()}`)
    expect(Object.keys(thumbnails).length).toBeGreaterThan(0)
    // Both wrote under the repository root's ./data, the folder npm start uses too.
    expect(existsSync(join(ROOT, relative, 'images'))).toBe(true)
    expect(readdirSync(join(ROOT, relative, 'images'), { recursive: true }).length).toBeGreaterThan(1)
    expect(existsSync(join(ROOT, relative, 'kv.log'))).toBe(true)
  }, 90_000)
})
