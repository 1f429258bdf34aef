import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import amqp from 'amqplib'
import { Client } from 'pg'
import { deleteTopology, topology } from '@socialnet/broker'

export const ROOT = resolve(__dirname, '../..')
export const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** URL of a test's own database on the shared Postgres (the app creates it). */
export function testDatabaseUrl(database: string): string {
  return PG_ADMIN_URL.replace(/\/[^/]*$/, `/${database}`)
}

/**
 * Removes what a test's processes left on the shared services: the queues and
 * exchanges under `prefix`, then the database, even while a process still holds it.
 */
export async function dropTestNamespace(database: string, prefix: string): Promise<void> {
  const connection = await amqp.connect('amqp://guest:guest@127.0.0.1:5672')
  try {
    await deleteTopology(await connection.createChannel(), topology({ prefix }))
  } finally {
    await connection.close()
  }
  const admin = new Client({ connectionString: PG_ADMIN_URL })
  await admin.connect()
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)
  } finally {
    await admin.end()
  }
}

/** A port nobody listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
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
