'use strict'
/**
 * One docker compose project of the unmodified docker-compose.yml, driven through
 * whichever compose the machine has (`docker compose`, else Compose 1.x `docker-compose`),
 * and the docker calls the end-to-end scenario makes on its containers. Every container,
 * network and volume it creates carries the project's label, which is how `leftovers()`
 * proves `down -v` removed them all.
 */
const { execFile, spawnSync } = require('node:child_process')

function composeCommand() {
  const v2 = spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' })
  return v2.status === 0 ? ['docker', ['compose']] : ['docker-compose', []]
}

/** Runs a command; resolves with stdout, rejects with its stderr's last lines. */
function exec(command, args, { timeoutMs = 120_000, env } = {}) {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024, env: env ?? process.env }, (err, stdout, stderr) => {
      if (err) {
        const tail = String(stderr || err.message).trim().split('\n').slice(-6).join('\n')
        reject(new Error(`${command} ${args.join(' ')}: ${tail}`))
      } else resolve(stdout)
    })
  })
}

class ComposeProject {
  constructor({ root, project, envFile, buildEnv }) {
    this.root = root
    this.project = project
    this.envFile = envFile
    this.buildEnv = buildEnv
    const [command, prefix] = composeCommand()
    this.command = command
    this.prefix = [...prefix, '--project-directory', root, '-f', `${root}/docker-compose.yml`, '--env-file', envFile, '-p', project]
  }

  /** `docker compose <args>` of this project. */
  compose(args, options = {}) {
    return exec(this.command, [...this.prefix, ...args], { env: { ...process.env, ...this.buildEnv }, ...options })
  }

  /** Containers of a service (all services when omitted), running or not. */
  async containers(service) {
    const filters = ['--filter', `label=com.docker.compose.project=${this.project}`]
    if (service) filters.push('--filter', `label=com.docker.compose.service=${service}`)
    const out = await exec('docker', ['ps', '-a', ...filters, '--format', '{{.ID}}\t{{.Names}}\t{{.Label "com.docker.compose.service"}}'])
    return out.trim().split('\n').filter(Boolean).map((line) => {
      const [id, name, svc] = line.split('\t')
      return { id, name, service: svc }
    })
  }

  /** State of a container: status (running/exited), health (healthy/starting/...), exit code. */
  async state(id) {
    const out = await exec('docker', ['inspect', '--format', '{{.State.Status}}\t{{if .State.Health}}{{.State.Health.Status}}{{end}}\t{{.State.ExitCode}}', id])
    const [status, health, exitCode] = out.trim().split('\t')
    return { status, health: health || undefined, exitCode: Number(exitCode) }
  }

  /** The first running container of a service. */
  async running(service) {
    for (const container of await this.containers(service)) {
      if ((await this.state(container.id)).status === 'running') return container
    }
    throw new Error(`no running ${service} container`)
  }

  exec(id, command, options) {
    return exec('docker', ['exec', id, ...command], options)
  }

  logs(id) {
    return exec('docker', ['logs', id], { timeoutMs: 30_000 }).catch(() => '')
  }

  kill(id) {
    return exec('docker', ['kill', '-s', 'KILL', id])
  }

  /** Containers, networks and volumes of the project that still exist. */
  async leftovers() {
    const label = `label=com.docker.compose.project=${this.project}`
    const lists = await Promise.all([
      exec('docker', ['ps', '-aq', '--filter', label]),
      exec('docker', ['network', 'ls', '-q', '--filter', label]),
      exec('docker', ['volume', 'ls', '-q', '--filter', label])
    ])
    const [containers, networks, volumes] = lists.map((out) => out.trim().split('\n').filter(Boolean))
    return { containers, networks, volumes }
  }

  down() {
    return this.compose(['down', '-v', '--remove-orphans', '--timeout', '20'], { timeoutMs: 180_000 })
  }
}

module.exports = { ComposeProject }
