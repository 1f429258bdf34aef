// @ts-check
'use strict'
const { spawn } = require('node:child_process')
const readline = require('node:readline')

const COLORS = [36, 33, 35, 32, 34, 91, 96, 93]

/**
 * @typedef {object} ChildSpec
 * @property {string} name          label in front of every output line, e.g. "api-1"
 * @property {string} command
 * @property {string[]} args
 * @property {NodeJS.ProcessEnv} [env]
 * @property {string} [cwd]
 * @property {NodeJS.Signals} [stopSignal]  graceful stop signal (default SIGTERM)
 * @property {number} [stopTimeoutMs]      SIGKILL after this long (default 15000)
 */

/** One child process of a ProcessGroup. */
class ManagedProcess {
  /** @param {ChildSpec} spec @param {import('node:child_process').ChildProcess} child */
  constructor(spec, child) {
    this.spec = spec
    this.child = child
    /** Set when the group asked it to stop, so its exit is not reported as a crash. */
    this.stopping = false
    /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} */
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }))
    })
  }

  get pid() { return this.child.pid }
  get running() { return this.child.exitCode === null && this.child.signalCode === null }

  /** Sends the graceful signal, waits for the exit, escalates to SIGKILL after the timeout. */
  async stop() {
    this.stopping = true
    if (!this.running) return this.exited
    this.child.kill(this.spec.stopSignal ?? 'SIGTERM')
    const timeoutMs = this.spec.stopTimeoutMs ?? 15000
    /** @type {NodeJS.Timeout | undefined} */
    let timer
    const killed = new Promise((resolve) => {
      timer = setTimeout(() => {
        process.stderr.write(`${this.spec.name} did not stop within ${timeoutMs} ms: SIGKILL\n`)
        this.child.kill('SIGKILL')
        resolve(undefined)
      }, timeoutMs)
    })
    await Promise.race([this.exited, killed])
    clearTimeout(timer)
    return this.exited
  }
}

/**
 * Child processes run in the foreground with their output prefixed by name
 * (like `docker compose up`). Children get their own process group, so the
 * terminal's Ctrl-C reaches only us and we stop them in a deliberate order.
 */
class ProcessGroup {
  /**
   * @param {{ color?: boolean, formatLine?: (line: string) => string,
   *   onUnexpectedExit?: (p: ManagedProcess, code: number | null, signal: string | null) => void }} [opts]
   */
  constructor(opts = {}) {
    this.color = opts.color ?? Boolean(process.stdout.isTTY)
    this.formatLine = opts.formatLine ?? ((/** @type {string} */ line) => line)
    this.onUnexpectedExit = opts.onUnexpectedExit
    /** @type {Set<ManagedProcess>} */
    this.processes = new Set()
    this.width = 8
    // If we die without stopping them (an uncaught error), do not leave orphans behind.
    process.once('exit', () => {
      for (const p of this.processes) if (p.running) p.child.kill('SIGKILL')
    })
  }

  /** Starts a child and pipes its output, line by line, behind its name. @param {ChildSpec} spec */
  start(spec) {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true
    })
    const managed = new ManagedProcess(spec, child)
    this.processes.add(managed)
    this.width = Math.max(this.width, spec.name.length)
    const color = COLORS[this.processes.size % COLORS.length]
    const prefix = () => {
      const label = spec.name.padEnd(this.width)
      return this.color ? `\x1b[${color}m${label} |\x1b[0m ` : `${label} | `
    }
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue
      readline.createInterface({ input: stream, crlfDelay: Infinity })
        .on('line', (line) => process.stdout.write(prefix() + this.formatLine(line) + '\n'))
    }
    child.once('error', (err) => process.stdout.write(`${prefix()}failed to start: ${err.message}\n`))
    void managed.exited.then(({ code, signal }) => {
      this.processes.delete(managed)
      process.stdout.write(`${prefix()}exited (${signal ?? `code ${code}`})\n`)
      if (!managed.stopping) this.onUnexpectedExit?.(managed, code, signal)
    })
    return managed
  }

  /** Stops the given processes (default: all) in parallel, each gracefully. @param {ManagedProcess[]} [which] */
  async stop(which = [...this.processes]) {
    await Promise.all(which.map((p) => p.stop()))
  }

  /**
   * Ctrl-C or SIGTERM runs `stop` (the graceful, ordered shutdown); a second one
   * kills every child at once and exits 1, for when the graceful stop hangs.
   * @param {() => Promise<unknown>} stop @param {string} [secondSignalMessage]
   */
  stopOnSignals(stop, secondSignalMessage) {
    let signals = 0
    for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
      process.on(signal, () => {
        if (++signals > 1) {
          if (secondSignalMessage) process.stderr.write(`${secondSignalMessage}\n`)
          for (const p of this.processes) p.child.kill('SIGKILL')
          process.exit(1)
        }
        void stop()
      })
    }
  }
}

module.exports = { ProcessGroup, ManagedProcess }
