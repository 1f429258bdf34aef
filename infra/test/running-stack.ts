import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

export const ROOT = resolve(__dirname, '../..')

/** A port nobody listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const { port } = server.address() as { port: number }
  await new Promise((ok) => server.close(ok))
  return port
}

export interface StackStatus {
  pid: number
  http: string
  https: string
  api: { pid: number; port: number }[]
  nginxAccessLog: string
}

/** `npm run stack` (scripts/stack.js) as a child of the test, its output kept for assertions. */
export class RunningStack {
  private text = ''
  private readonly child: ChildProcess
  readonly exited: Promise<number | null>

  constructor(readonly dir: string, env: Record<string, string>) {
    this.child = spawn(process.execPath, [join(ROOT, 'scripts/stack.js')], {
      cwd: ROOT,
      env: { ...process.env, ...env, STACK_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    for (const stream of [this.child.stdout!, this.child.stderr!]) stream.on('data', (chunk: Buffer) => { this.text += chunk.toString() })
    this.exited = new Promise((ok) => this.child.once('exit', (code) => ok(code)))
  }

  get output(): string { return this.text }

  /** Resolves on the "stack ready" line; rejects with the output if the stack exits or takes too long. */
  async ready(timeoutMs = 90000): Promise<StackStatus> {
    const deadline = Date.now() + timeoutMs
    while (!this.text.includes('stack ready:')) {
      if (this.child.exitCode !== null) throw new Error(`stack exited (${this.child.exitCode}):\n${this.text}`)
      if (Date.now() > deadline) throw new Error(`stack not ready in ${timeoutMs} ms:\n${this.text}`)
      await new Promise((ok) => setTimeout(ok, 100))
    }
    return this.status()
  }

  status(): StackStatus {
    return JSON.parse(readFileSync(join(this.dir, 'stack.json'), 'utf8')) as StackStatus
  }

  /**
   * Like Ctrl-C: resolves with the stack's exit code once every child has stopped.
   * A stack still busy after `timeoutMs` gets the second Ctrl-C, on which it kills
   * its children itself (SIGKILL to the stack would orphan nginx and the apps).
   */
  async stop(timeoutMs = 45000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited
    this.child.kill('SIGINT')
    const timer = setTimeout(() => this.child.kill('SIGINT'), timeoutMs)
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }
}
