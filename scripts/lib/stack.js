// @ts-check
'use strict'
const { mkdirSync, writeFileSync, rmSync } = require('node:fs')
const { execFileSync } = require('node:child_process')
const { join, resolve } = require('node:path')
const { ProcessGroup } = require('./process-group')
const { renderLoopbackNginx, testNginxConfig, nginxArgs, NGINX_BIN, UPSTREAM_FAIL_TIMEOUT_S } = require('./nginx')
const { waitForHttp200 } = require('./readiness')
const { serveControl } = require('./stack-control')
const { logLineFormat } = require('./log-format')
const { takenPorts } = require('./ports')

const ROOT = resolve(__dirname, '../..')
const NODE = process.execPath

/** @typedef {import('./process-group').ManagedProcess} ManagedProcess */

/** Reads the stack's own settings; throws one readable line on a bad value. @param {NodeJS.ProcessEnv} env */
function stackSettings(env) {
  const int = (/** @type {string} */ name, /** @type {number} */ fallback, min = 0, max = 65535) => {
    const raw = env[name]
    if (raw === undefined || raw === '') return fallback
    const n = Number(raw)
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`)
    return n
  }
  if ((env.KV_LOG ?? 'postgres') !== 'postgres') {
    throw new Error('KV_LOG must be postgres in the stack: replicas (and a restarting replica with its successor) cannot share a file log')
  }
  const httpPort = int('STACK_PORT', 8080, 1)
  return {
    dir: resolve(ROOT, env.STACK_DIR ?? 'data/stack'),
    httpPort,
    httpsPort: int('STACK_TLS_PORT', 8443, 1),
    apiBasePort: int('STACK_API_PORT', 3100, 1, 65000),
    inboxSmtpPort: int('INBOX_SMTP_PORT', 1025, 1),
    inboxWebPort: int('INBOX_WEB_PORT', 1080, 1),
    apiReplicas: int('API_REPLICAS', 2, 1, 32),
    mailerReplicas: int('MAILER_REPLICAS', 2, 0, 32),
    workerReplicas: int('WORKER_REPLICAS', 1, 0, 32),
    rateLimitRps: int('RATE_LIMIT_RPS', 50, 0, 1000000),
    uploadMaxBytes: int('UPLOAD_MAX_BYTES', 10485760, 1, 2 ** 31),
    shutdownGraceMs: int('SHUTDOWN_GRACE_MS', 10000, 0, 600000),
    /** No SMTP_URL given: the stack runs maildev, like the mail inbox of docker compose. */
    smtpUrl: env.SMTP_URL
  }
}

/**
 * The docker compose topology as local processes: Debian's nginx (same config
 * template, rendered for loopback) in front of N api replicas, M mailers and a
 * worker, against the local Postgres, Redis and RabbitMQ.
 */
class Stack {
  /** @param {ReturnType<typeof stackSettings>} settings @param {NodeJS.ProcessEnv} env */
  constructor(settings, env) {
    this.s = settings
    this.env = env
    this.stopping = false
    this.group = new ProcessGroup({ formatLine: logLineFormat(env), onUnexpectedExit: (p, code, signal) => this.onCrash(p, code, signal) })
    /** @type {{ process: ManagedProcess, port: number }[]} */
    this.apis = []
    /** @type {ManagedProcess | undefined} */
    this.nginx = undefined
    this.nginxPrefix = join(settings.dir, 'nginx')
    this.tlsDir = join(settings.dir, 'tls')
    this.socketPath = join(settings.dir, 'control.sock')
    /** @type {import('node:http').Server | undefined} */
    this.control = undefined
  }

  /** Environment every app process gets: the caller's, plus what the topology fixes. */
  appEnv(/** @type {Record<string, string>} */ extra = {}) {
    return {
      ...this.env,
      KV_LOG: 'postgres',
      PUBLIC_URL: this.env.PUBLIC_URL ?? `http://localhost:${this.s.httpPort}`,
      SMTP_URL: this.s.smtpUrl ?? `smtp://127.0.0.1:${this.s.inboxSmtpPort}`,
      RATE_LIMIT_RPS: String(this.s.rateLimitRps),
      ...extra
    }
  }

  async start() {
    await this.checkPorts()
    mkdirSync(this.s.dir, { recursive: true })
    execFileSync(join(ROOT, 'infra/tls/make-dev-cert.sh'), [this.tlsDir], { stdio: 'ignore' })
    if (this.s.smtpUrl === undefined) {
      // Its mails go in the stack's folder: by default maildev leaves a /tmp/maildev-<pid> behind at each run.
      const mailDir = join(this.s.dir, 'inbox')
      rmSync(mailDir, { recursive: true, force: true })
      this.group.start({ name: 'maildev', command: join(ROOT, 'node_modules/.bin/maildev'), args: ['--ip', '127.0.0.1', '--smtp', String(this.s.inboxSmtpPort), '--web', String(this.s.inboxWebPort), '--mail-directory', mailDir], cwd: ROOT })
    }
    // The first replica creates and migrates the database alone; the others then start together.
    this.apis = [await this.startApi(this.apiPort(1))]
    const more = []
    for (let i = 2; i <= this.s.apiReplicas; i++) more.push(this.startApi(this.apiPort(i)))
    this.apis.push(...await Promise.all(more))
    this.throwIfStopping()

    const confErrors = this.renderNginx()
    if (confErrors) throw new Error(confErrors)
    this.nginx = this.group.start({ name: 'nginx', command: NGINX_BIN, args: nginxArgs(this.nginxPrefix), stopSignal: 'SIGQUIT', stopTimeoutMs: this.s.shutdownGraceMs + 5000 })
    const nginx = this.nginx
    await waitForHttp200(`http://127.0.0.1:${this.s.httpPort}/nginx-health`, { timeoutMs: 10000, gaveUp: () => nginx.running ? undefined : 'nginx exited' })
    this.throwIfStopping()

    for (let i = 1; i <= this.s.mailerReplicas; i++) this.startConsumer('mailer', i)
    for (let i = 1; i <= this.s.workerReplicas; i++) this.startConsumer('worker', i)

    this.control = serveControl(this.socketPath, { restart: () => this.rollingRestart(), status: () => this.status() })
    writeFileSync(join(this.s.dir, 'stack.json'), JSON.stringify(this.status(), null, 2) + '\n')
    process.stdout.write(`stack ready: http://127.0.0.1:${this.s.httpPort} https://127.0.0.1:${this.s.httpsPort} ` +
      `(api x${this.s.apiReplicas}, mailer x${this.s.mailerReplicas}, worker x${this.s.workerReplicas}` +
      `${this.s.smtpUrl === undefined ? `, mail inbox http://127.0.0.1:${this.s.inboxWebPort}` : ''})\n`)
  }

  /**
   * Refuses to start when a port the stack would listen on is taken, naming it and its
   * setting: nginx would log a failed bind and keep running on the ports it got, the api
   * replicas would exit, and a health check could be answered by whatever holds the port.
   */
  async checkPorts() {
    const wanted = [
      { name: 'nginx http (STACK_PORT)', port: this.s.httpPort, host: '127.0.0.1' },
      { name: 'nginx https (STACK_TLS_PORT)', port: this.s.httpsPort, host: '127.0.0.1' },
      ...Array.from({ length: this.s.apiReplicas }, (_, i) => ({ name: `api replica ${i + 1} (STACK_API_PORT + ${i + 1})`, port: this.apiPort(i + 1), host: '127.0.0.1' })),
      ...(this.s.smtpUrl === undefined
        ? [{ name: 'the mail inbox SMTP (INBOX_SMTP_PORT)', port: this.s.inboxSmtpPort, host: '127.0.0.1' }, { name: 'the mail inbox web UI (INBOX_WEB_PORT)', port: this.s.inboxWebPort, host: '127.0.0.1' }]
        : [])
    ]
    const taken = await takenPorts(wanted)
    if (taken.length > 0) {
      throw new Error(`port${taken.length > 1 ? 's' : ''} already in use (is another stack or npm start running?): ${taken.map((t) => `${t.port} for ${t.name}, ${t.reason}`).join('; ')}`)
    }
  }

  /**
   * A signal during start-up runs stop() while start() still awaits: whatever
   * start() would launch after that (nginx, consumers, the control socket)
   * would outlive the stop and keep this process from exiting.
   */
  throwIfStopping() {
    if (this.stopping) throw new Error('stopped while starting')
  }

  status() {
    return {
      pid: process.pid,
      http: `http://127.0.0.1:${this.s.httpPort}`,
      https: `https://127.0.0.1:${this.s.httpsPort}`,
      api: this.apis.map((a) => ({ pid: a.process.pid, port: a.port })),
      nginxAccessLog: join(this.nginxPrefix, 'logs/access.log')
    }
  }

  /**
   * Replica n's port, for good: nginx's upstream lists them once, so restarting
   * a replica (on the same port) never needs an nginx reload. @param {number} n
   */
  apiPort(n) {
    return this.s.apiBasePort + n
  }

  /** Starts one api replica and resolves once its /ready answers 200. @param {number} port */
  async startApi(port) {
    const proc = this.group.start({
      name: `api:${port}`,
      command: NODE,
      args: [join(ROOT, 'apps/api/dist/server.js')],
      cwd: ROOT,
      // Only nginx, on loopback, may set X-Forwarded-For.
      env: this.appEnv({ REPLICA_ID: `api-${port}`, PORT: String(port), HOST: '127.0.0.1', TRUST_PROXY: '127.0.0.1', SHUTDOWN_GRACE_MS: String(this.s.shutdownGraceMs) }),
      stopTimeoutMs: this.s.shutdownGraceMs + 5000
    })
    try {
      await waitForHttp200(`http://127.0.0.1:${port}/ready`, { gaveUp: () => proc.running ? undefined : 'the api exited' })
    } catch (err) {
      await proc.stop()
      throw err
    }
    return { process: proc, port }
  }

  /** @param {'mailer' | 'worker'} app @param {number} n */
  startConsumer(app, n, attempt = 0) {
    const proc = this.group.start({
      name: `${app}-${n}`,
      command: NODE,
      args: [join(ROOT, `apps/${app}/dist/server.js`)],
      cwd: ROOT,
      env: this.appEnv({ REPLICA_ID: `${app}-${n}` }),
      stopTimeoutMs: this.s.shutdownGraceMs + 5000
    })
    Object.assign(proc, { restartInfo: { app, n, attempt } })
    return proc
  }

  /** Like compose's `restart: unless-stopped`, with a growing delay so a crash loop stays quiet. */
  onCrash(/** @type {ManagedProcess} */ p, /** @type {number | null} */ code, /** @type {string | null} */ signal) {
    if (this.stopping) return
    if (p === this.nginx) {
      process.stderr.write(`nginx exited (${signal ?? code}): stopping the stack\n`)
      void this.stop(1)
      return
    }
    const info = /** @type {{ restartInfo?: { app: 'mailer' | 'worker', n: number, attempt: number } }} */ (/** @type {unknown} */ (p)).restartInfo
    const api = this.apis.find((a) => a.process === p)
    const attempt = info?.attempt ?? 0
    const delay = Math.min(30000, 1000 * 2 ** attempt)
    setTimeout(() => {
      if (this.stopping) return
      if (info) this.startConsumer(info.app, info.n, attempt + 1)
      else if (api) {
        this.startApi(api.port).then((fresh) => { api.process = fresh.process }, (err) => process.stderr.write(`api restart failed: ${err.message}\n`))
      }
    }, delay).unref()
  }

  /** Renders the nginx config for the current replicas; returns nginx -t's complaint, if any. */
  renderNginx() {
    renderLoopbackNginx({
      prefix: this.nginxPrefix,
      httpPort: this.s.httpPort,
      httpsPort: this.s.httpsPort,
      tlsCert: join(this.tlsDir, 'cert.pem'),
      tlsKey: join(this.tlsDir, 'key.pem'),
      upstreamPorts: this.apis.map((a) => a.port),
      rateLimitRps: this.s.rateLimitRps,
      uploadMaxBytes: this.s.uploadMaxBytes
    })
    try {
      testNginxConfig(this.nginxPrefix)
      return undefined
    } catch (err) {
      return /** @type {Error} */ (err).message
    }
  }

  /**
   * Replaces the api replicas one at a time; nginx keeps all of them in its
   * upstream and is never reloaded (a reload retires its workers and with them
   * clients' keep-alive connections). A stopping replica refuses new
   * connections, which nginx retries on another replica, answers the requests
   * still reaching it on open connections with `Connection: close`, and waits
   * for nginx to close its idle ones (apps/api/src/shutdown-drain.ts); then its
   * successor starts on the same port. nginx sends it traffic again once the
   * refused connects are older than the upstream's fail_timeout: only then is
   * the next replica stopped.
   */
  async rollingRestart() {
    if (!this.nginx?.running || this.stopping) throw new Error('the stack is not running')
    for (const old of [...this.apis]) {
      await old.process.stop()
      this.throwIfStopping()
      const fresh = await this.startApi(old.port)
      this.apis = this.apis.map((a) => (a === old ? fresh : a))
      await new Promise((resolve) => setTimeout(resolve, UPSTREAM_FAIL_TIMEOUT_S * 1000 + 500))
      process.stdout.write(`rolling restart: api:${old.port} restarted (pid ${old.process.pid} -> ${fresh.process.pid})\n`)
    }
    writeFileSync(join(this.s.dir, 'stack.json'), JSON.stringify(this.status(), null, 2) + '\n')
    return `${this.apis.length} api replicas restarted`
  }

  /** Stops the edge first (it finishes what it has), then the apps, each gracefully. */
  async stop(exitCode = 0) {
    if (this.stopping) return
    this.stopping = true
    process.stdout.write('stopping the stack...\n')
    this.control?.close()
    rmSync(this.socketPath, { force: true })
    if (this.nginx) await this.nginx.stop()
    const maildev = [...this.group.processes].filter((p) => p.spec.name === 'maildev')
    await this.group.stop([...this.group.processes].filter((p) => !maildev.includes(p)))
    await this.group.stop(maildev)
    rmSync(join(this.s.dir, 'stack.json'), { force: true })
    process.exitCode = exitCode
  }
}

module.exports = { Stack, stackSettings }
