import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { databaseUrl, freePort, namespaceTag } from '@socialnet/testing'
import { ROOT, dropTestNamespace } from './running-stack'

// Debian's supervisord runs infra/supervisor/socialnet.conf for real. The file is used as
// committed, except `user = socialnet` (no such account here), in a throwaway checkout
// whose apps/, packages/ and node_modules/ link to this one and whose .env is the test's.
const tag = namespaceTag()
const database = `socialnet_test_supervisor_${tag}`
const dir = mkdtempSync(join(tmpdir(), 'socialnet-supervisor-'))
const checkout = join(dir, 'checkout')
const mainConf = join(dir, 'supervisord.conf')
const prefix = `test-supervisor-${tag}.`
// The bounce receiver's SMTP port: any free one (2525 is the fake SMTP_URL below, and may be taken).
let bounceSmtpPort = 0
let supervisord: ChildProcess

function ctl(...args: string[]): string {
  try {
    // A stopping program can take stopwaitsecs (20 s); longer means supervisord is stuck.
    return execFileSync('supervisorctl', ['-c', mainConf, ...args], { encoding: 'utf8', timeout: 40000 })
  } catch (err) {
    // supervisorctl exits non-zero when a process is not RUNNING; its output still tells the state.
    return (err as { stdout?: string }).stdout ?? ''
  }
}

/** Waits until `program` is RUNNING and returns its pid. */
async function runningPid(program: string, notPid?: number): Promise<number> {
  const deadline = Date.now() + 60000
  for (;;) {
    const line = ctl('status', program)
    const pid = Number(/RUNNING\s+pid (\d+)/.exec(line)?.[1])
    if (pid && pid !== notPid) return pid
    if (Date.now() > deadline) throw new Error(`${program} not running: ${line}\n${readFileSync(join(dir, 'supervisord.log'), 'utf8')}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

beforeAll(async () => {
  bounceSmtpPort = await freePort()
  mkdirSync(join(checkout, 'infra/supervisor'), { recursive: true })
  mkdirSync(join(dir, 'logs'))
  for (const link of ['apps', 'packages', 'node_modules']) symlinkSync(join(ROOT, link), join(checkout, link))
  const conf = readFileSync(join(ROOT, 'infra/supervisor/socialnet.conf'), 'utf8')
  expect(conf).toContain('user = socialnet')
  writeFileSync(join(checkout, 'infra/supervisor/socialnet.conf'), conf.replaceAll('user = socialnet', `user = ${userInfo().username}`))
  writeFileSync(join(checkout, '.env'), [
    `DATABASE_URL=${databaseUrl(database)}`,
    `AMQP_PREFIX=${prefix}`,
    'SMTP_URL=smtp://127.0.0.1:2525',
    'RATE_LIMIT_RPS=0',
    'BOUNCE_DOMAIN=bounces.socialnet.test',
    `BOUNCE_SECRET=${randomBytes(16).toString('hex')}`,
    `BOUNCE_SMTP_PORT=${bounceSmtpPort}`,
    'BOUNCE_SMTP_HOST=127.0.0.1',
    `CALLBACK_SECRET=whsec_${randomBytes(32).toString('base64')}`,
    'LOG_LEVEL=warn'
  ].join('\n') + '\n')
  writeFileSync(mainConf, `
[unix_http_server]
file=${dir}/supervisor.sock
[supervisord]
nodaemon=true
logfile=${dir}/supervisord.log
pidfile=${dir}/supervisord.pid
childlogdir=${dir}/logs
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://${dir}/supervisor.sock
[include]
files=${checkout}/infra/supervisor/socialnet.conf
`)
  supervisord = spawn('supervisord', ['-c', mainConf], { stdio: 'ignore' })
})

afterAll(async () => {
  try {
    // supervisord stops its programs (each within stopwaitsecs) before it exits.
    if (supervisord.exitCode === null && supervisord.signalCode === null) {
      const exited = new Promise((resolve) => supervisord.once('exit', resolve))
      supervisord.kill('SIGTERM')
      await exited
    }
  } finally {
    await dropTestNamespace(database, prefix)
    rmSync(dir, { recursive: true, force: true })
  }
}, 60000)

describe('supervisor (infra/supervisor/socialnet.conf)', () => {
  test('runs two api replicas, two mailers, a worker and the bounce receiver', async () => {
    for (const program of ['socialnet:api-1', 'socialnet:api-2', 'socialnet:mailer-1', 'socialnet:mailer-2', 'socialnet:worker', 'socialnet:bounces']) {
      expect(await runningPid(program)).toBeGreaterThan(0)
    }
    const health = await fetch('http://127.0.0.1:3001/health')
    expect(health.status).toBe(200)
  }, 90000)

  test('the api runs with the container image\'s memory settings (MALLOC_*, NODE_OPTIONS on the Dockerfile\'s ENV line)', async () => {
    const dockerfile = readFileSync(join(ROOT, 'infra/docker/Dockerfile'), 'utf8').split('\n').filter((line) => line.startsWith('ENV '))
    const image = Object.fromEntries(dockerfile.flatMap((line) => [...line.matchAll(/\b(MALLOC_[A-Z_]+|NODE_OPTIONS)=(\S+)/g)]).map((m) => [m[1]!, m[2]!]))
    expect(Object.keys(image).sort()).toEqual(['MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_', 'NODE_OPTIONS'])
    // What the running process got, not what the file says: supervisor's quoting is part of the check.
    const environ = readFileSync(`/proc/${await runningPid('socialnet:api-1')}/environ`, 'utf8').split('\0')
    for (const [name, value] of Object.entries(image)) expect(environ).toContain(`${name}=${value}`)
  }, 90000)

  test('a killed program comes back', async () => {
    for (const program of ['socialnet:api-1', 'socialnet:mailer-2']) {
      const pid = await runningPid(program)
      process.kill(pid, 'SIGKILL')
      expect(await runningPid(program, pid)).not.toBe(pid)
    }
  }, 90000)

  test('stopping is graceful: the api exits on its own within stopwaitsecs', async () => {
    ctl('stop', 'socialnet:api-2')
    expect(ctl('status', 'socialnet:api-2')).toMatch(/STOPPED/)
    // A SIGKILL after stopwaitsecs would be logged by supervisord as "killing ... with SIGKILL".
    expect(readFileSync(join(dir, 'supervisord.log'), 'utf8')).not.toMatch(/api-2.*SIGKILL/)
  }, 60000)
})
