import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, isolatedEnv, waitFor } from '@socialnet/testing'
import { ROOT, RunningStack, stackPorts } from './running-stack'

// `npm start` (scripts/dev.js) and `npm run stack` as a newcomer meets them: a second copy, a taken
// port, an app that cannot start.
// Every port is a free one of its own, so this runs beside a dev system or a compose stack.

function runDev(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'scripts/dev.js')], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => { output += d.toString() })
    child.stderr.on('data', (d: Buffer) => { output += d.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, output }) })
  })
}

async function devPorts(): Promise<Record<string, string>> {
  return { PORT: String(await freePort()), INBOX_SMTP_PORT: String(await freePort()), INBOX_WEB_PORT: String(await freePort()) }
}

describe('npm start', () => {
  let other: Server
  afterEach(() => { other?.close() })

  test('refuses to start when a port is taken, naming it, before starting anything', async () => {
    const ports = await devPorts()
    other = createServer().listen(Number(ports.PORT))
    await new Promise((resolve) => other.once('listening', resolve))
    const { code, output } = await runDev(ports)
    expect(code).toBe(1)
    expect(output.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^npm start: port ${ports.PORT} for the api \\(PORT\\) is already in use`))])
  }, 70000)

  test('an app that cannot start stops the whole group, exit 1', async () => {
    // An invalid LOG_LEVEL makes every app refuse its environment at once.
    const { code, output } = await runDev({ ...(await devPorts()), LOG_LEVEL: 'loud' })
    expect(code).toBe(1)
    expect(output).toMatch(/exited \(code 1\): stopping everything/)
    expect(output).toMatch(/maildev\s*\| exited/)
    expect(output).not.toMatch(/^ready:/m)
  }, 70000)
})

describe('npm start, all the way to ready and back', () => {
  const ns = isolatedEnv('devstart')
  afterAll(async () => { await ns.cleanup() })

  /** maildev's folders in the temp dir: its own default (maildev-<pid>) and ours (socialnet-inbox-…). */
  const inboxFolders = () => new Set(readdirSync(tmpdir()).filter((name) => /^(maildev-\d+|socialnet-inbox-)/.test(name)))

  test('a few lines of build before the apps; the inbox keeps its mails in a folder of ours, removed after Ctrl-C', async () => {
    const before = inboxFolders()
    const child = spawn(process.execPath, [join(ROOT, 'scripts/dev.js')], {
      cwd: ROOT,
      env: { ...process.env, ...ns.env, ...(await devPorts()) },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let output = ''
    for (const stream of [child.stdout, child.stderr]) stream.on('data', (d: Buffer) => { output += d.toString() })
    try {
      await waitFor(() => /^ready: /m.test(output) || child.exitCode !== null, 'npm start to be ready', 90000)
      expect(output).toMatch(/^ready: /m)
      // Everything before the first line of an app is the build's: its summary, not a replay of every task.
      const lines = output.split('\n')
      const firstAppLine = lines.findIndex((line) => /^\S*(maildev|api|mailer|worker)\S*\s*\|/.test(line))
      expect(firstAppLine).toBeGreaterThan(0)
      expect(firstAppLine).toBeLessThan(15)
      const during = [...inboxFolders()].filter((name) => !before.has(name))
      expect(during).toEqual([expect.stringMatching(/^socialnet-inbox-/)])
    } finally {
      child.kill('SIGINT')
      await once(child, 'exit')
    }
    expect(child.exitCode).toBe(0)
    expect([...inboxFolders()].filter((name) => !before.has(name))).toEqual([])
  }, 150000)
})

describe('npm run stack', () => {
  test('refuses to start when a port is taken, naming it and its setting, and never says ready', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'socialnet-stack-ports-'))
    const ports = await stackPorts()
    const other = createServer().listen(Number(ports.STACK_TLS_PORT), '127.0.0.1')
    await new Promise((resolve) => other.once('listening', resolve))
    try {
      const stack = new RunningStack(dir, { ...ports, SMTP_URL: 'smtp://127.0.0.1:1', MAILER_REPLICAS: '0', WORKER_REPLICAS: '0' })
      expect(await stack.exited).toBe(1)
      expect(stack.output).toContain(`stack: failed to start: port already in use (is another stack or npm start running?): ${ports.STACK_TLS_PORT} for nginx https (STACK_TLS_PORT), EADDRINUSE`)
      expect(stack.output).not.toContain('stack ready')
    } finally {
      other.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60000)
})
