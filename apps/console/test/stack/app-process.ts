import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

export const ROOT = join(__dirname, '..', '..', '..', '..')

/** The built entry point of an app; the test runs what `npm start` runs. */
export function builtScript(app: 'api' | 'mailer' | 'worker'): string {
  const script = join(ROOT, 'apps', app, 'dist', 'server.js')
  if (!existsSync(script)) throw new Error(`${script} is missing: run npm run build first`)
  return script
}

/** One app process of the stack, its output kept for the error message of a failed test. */
export interface AppProcess {
  name: string
  child: ChildProcess
  output(): string
  /** Resolves once `line` (a log message) has been printed; rejects if the process exits first. */
  printed(line: string): Promise<void>
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`); resolves with the exit code or signal. */
  stop(graceMs?: number): Promise<number | string>
}

export function startApp(name: string, script: string, env: Record<string, string>): AppProcess {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  const listeners = new Set<() => void>()
  const onData = (d: Buffer) => {
    out += d.toString()
    for (const listener of listeners) listener()
  }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => {
    resolve(code ?? signal ?? -1)
    for (const listener of listeners) listener()
  }))
  const running = () => child.exitCode === null && child.signalCode === null
  return {
    name,
    child,
    output: () => out,
    printed(line) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (out.includes(line)) { listeners.delete(check); resolve() } else if (!running()) {
            listeners.delete(check)
            reject(new Error(`${name} exited before printing "${line}":\n${out}`))
          }
        }
        listeners.add(check)
        check()
      })
    },
    async stop(graceMs = 15_000) {
      if (!running()) return await exited
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      const code = await exited
      clearTimeout(timer)
      return code
    }
  }
}

/** Runs a built CLI to completion with `env`; rejects with its output on a non-zero exit. */
export function runCli(script: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { out += d.toString() })
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${script} ${args.join(' ')} exited ${code}: ${out}`))))
  })
}
