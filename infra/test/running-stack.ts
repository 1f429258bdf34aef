import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { Agent, request as httpRequest } from 'node:http'
import { promisify } from 'node:util'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { databaseUrl, deleteByPrefix, dropDatabase, freePort } from '@socialnet/testing'

export const ROOT = resolve(__dirname, '../..')

/** Removes what a test's processes left on the shared services: the queues and exchanges under `prefix`, then the database. */
export async function dropTestNamespace(database: string, prefix: string): Promise<void> {
  await deleteByPrefix(prefix)
  await dropDatabase(database)
}

/**
 * STACK_PORT, STACK_TLS_PORT and STACK_API_PORT for a stack of its own: nginx on
 * free ports, the api replicas from a random base (replica n on base + n, also after a restart).
 */
export async function stackPorts(): Promise<Record<string, string>> {
  return {
    STACK_PORT: String(await freePort()),
    STACK_TLS_PORT: String(await freePort()),
    STACK_API_PORT: String(20000 + Math.floor(Math.random() * 30000))
  }
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
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)))
  }

  get output(): string { return this.text }

  /** Resolves on the "stack ready" line; rejects with the output if the stack exits or takes too long. */
  async ready(timeoutMs = 90000): Promise<StackStatus> {
    const deadline = Date.now() + timeoutMs
    while (!this.text.includes('stack ready:')) {
      if (this.child.exitCode !== null) throw new Error(`stack exited (${this.child.exitCode}):\n${this.text}`)
      if (Date.now() > deadline) throw new Error(`stack not ready in ${timeoutMs} ms:\n${this.text}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
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

export interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/**
 * One request on a fresh connection (no keep-alive): each call is an independent client.
 * Times out well past nginx's own proxy timeouts, so a stuck stack fails the test, not hangs it.
 */
export function send(url: string, opts: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: new Agent({ keepAlive: false }), signal: AbortSignal.timeout(45000) }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c) => { body += c }).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject).end(opts.body)
  })
}

/** `authorization` header with a kv:write key minted by the admin CLI (the stack's KV store is not open). */
export async function kvWriteAuthorization(database: string): Promise<Record<string, string>> {
  const minted = await promisify(execFile)(process.execPath, [join(ROOT, 'apps/api/dist/admin/cli.js'), 'api-key', 'create', '--scope', 'kv:write', '--name', 'stack test'],
    { env: { ...process.env, DATABASE_URL: databaseUrl(database) }, timeout: 30000 })
  return { authorization: `Bearer ${minted.stdout.trim()}` }
}
