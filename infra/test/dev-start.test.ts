import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { freePort } from '@socialnet/testing'
import { ROOT } from './running-stack'

// `npm start` (scripts/dev.js) as a newcomer meets it: a second copy, an app that cannot start.
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
