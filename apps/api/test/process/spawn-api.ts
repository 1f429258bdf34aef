import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

export const SERVER_JS = join(__dirname, '..', '..', 'dist', 'server.js')

export interface RunningApi {
  child: ChildProcess
  url: string
  output: () => string
  /** Resolves with the exit code (or signal name) once the process is gone. */
  exited: Promise<number | string>
}

/** Starts the built api (`node dist/server.js`) on a free loopback port and waits until it listens. */
export async function spawnApi(env: Record<string, string>, scheme = 'http'): Promise<RunningApi> {
  if (!existsSync(SERVER_JS)) throw new Error(`${SERVER_JS} is missing: run npm run build first`)
  const child = spawn(process.execPath, [SERVER_JS], {
    // The port is read from the 'listening' log line, so logging must be on.
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`api did not start:\n${out}`)) }, 20000)
    const onData = () => {
      const m = out.match(new RegExp(`Server listening at (${scheme}://127\\.0\\.0\\.1:\\d+)`))
      if (m) { clearTimeout(timer); resolve(m[1]!) }
    }
    child.stdout!.on('data', onData)
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`api exited with ${code} before listening:\n${out}`)) })
  })
  return { child, url, output: () => out, exited }
}

/** Runs the built api to completion (for start-up failures) and returns its exit code and output. */
export function runApiToExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SERVER_JS], { env: { ...process.env, LOG_LEVEL: 'silent', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => { output += d.toString() })
    child.stderr.on('data', (d: Buffer) => { output += d.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, output }) })
  })
}
