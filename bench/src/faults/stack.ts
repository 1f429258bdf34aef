/**
 * stack.rolling-restart: `npm run stack` (scripts/stack.js: nginx in front
 * of 2 api replicas + a mailer, KV_LOG=postgres) under load from 8 clients
 * doing idempotent PUTs, GETs and registrations (POSTs, which nginx retries
 * only when the connect was refused), while `npm run stack:restart` replaces
 * both api replicas one by one, 10 times in a row (3 with --quick). Every 201 PUT must
 * read back, every 201 registration must yield its welcome mail; a request
 * that fails is counted as failed (the client knows), an acknowledged one that
 * vanishes as lost. A rolling restart must fail no request: `failedAllowed: 0`;
 * and each restart must replace both processes on their own ports (nginx is
 * never reloaded), or it counts as a failure too.
 * nginx and the api replicas run on free ports, beside a compose stack on 8080.
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ROOT, type BenchEnv } from '../harness'
import { freePort, namespace, pool, sleep, startChild, startSmtpSink, tally, waitUntil, type Child, type Fault, type SmtpSink } from './testbed'

async function startStack(ns: BenchEnv, sink: SmtpSink) {
  const stackDir = join(ns.dir, 'stack')
  const httpPort = await freePort()
  // Its graceful stop (nginx, then the apps, each up to SHUTDOWN_GRACE_MS + 5 s) outlasts the default 15 s.
  const stack = startChild('stack', {
    ...ns.env,
    STACK_DIR: stackDir,
    STACK_PORT: String(httpPort),
    STACK_TLS_PORT: String(await freePort()),
    STACK_API_PORT: String(20000 + Math.floor(Math.random() * 20000)),
    API_REPLICAS: '2',
    MAILER_REPLICAS: '1',
    WORKER_REPLICAS: '0',
    SMTP_URL: sink.url,
    KV_LOG: 'postgres',
    // Open store: this fault counts lost writes across restarts, not access (KV_AUTH=token is tested in apps/api).
    KV_AUTH: 'open',
    SHUTDOWN_GRACE_MS: '5000',
    // Every recipient is at example.com: the per-domain pace (600 a minute) would make the wait for
    // the last mail depend on how fast this machine registers. It is not what this fault is about.
    MAIL_DOMAIN_RATE_PER_MINUTE: '0',
    LOG_LEVEL: 'warn'
  }, { script: join(ROOT, 'scripts', 'stack.js'), stopTimeoutMs: 40000, forceSignal: 'SIGTERM' })
  await waitUntil(() => !stack.running() || stack.output.includes('stack ready:'), 90000)
  if (!stack.output.includes('stack ready:')) { await stack.stop(); throw new Error(`stack did not start: ${stack.output}`) }
  return { stack, stackDir, base: `http://127.0.0.1:${httpPort}` }
}

/** Rolling restarts in a row: 10 in the full run, 3 with --quick (CI). */
const restartsFor = (quick: boolean) => quick ? 3 : 10

/** The api replicas the running stack lists in its stack.json: `[{ pid, port }]`. */
function replicas(stackDir: string): { pid: number, port: number }[] {
  return (JSON.parse(readFileSync(join(stackDir, 'stack.json'), 'utf8')) as { api: { pid: number, port: number }[] }).api
}

export const rollingRestart: Fault = {
  name: 'stack.rolling-restart',
  fault: 'npm run stack:restart, again and again (2 api replicas behind nginx), under load',
  failedAllowed: 0,
  async run({ quick, log }) {
    const RESTARTS = restartsFor(quick)
    const ns = namespace('stack')
    let sink: SmtpSink | undefined
    let running = true
    let clients: Promise<void>[] = []
    let stack: Child | undefined
    try {
      const smtp = sink = await startSmtpSink()
      const started = await startStack(ns, smtp)
      stack = started.stack
      const { base } = started
      // nginx's and the apis' complaints, kept whole (the child's output buffer is short) to explain a failed request.
      const problems: string[] = []
      started.stack.child.stdout.on('data', (chunk: Buffer) => {
        for (const line of String(chunk).split('\n')) {
          if (/\[(error|crit|alert|emerg)\]|"level":(50|60)|exited|SIGKILL/.test(line) && !/Connection refused/.test(line)) problems.push(line.slice(0, 400))
        }
      })
      const puts = new Map<string, string>()
      const emails: string[] = []
      const failures = new Map<string, number>()
      let requests = 0
      // Per restart (0 = the load before the first one): requests answered and failed.
      let round = 0
      const rounds = Array.from({ length: RESTARTS + 1 }, () => ({ requests: 0, failed: 0 }))
      const count = (reason: string) => {
        failures.set(reason, (failures.get(reason) || 0) + 1)
        const now = rounds[round]!
        now.failed++
        if (now.failed <= 3) log(`stack.rolling-restart: restart ${round}: failed ${reason} at ${new Date().toISOString()}`)
      }
      const client = async (c: number) => {
        for (let i = 0; running; i++) {
          const kind = i % 3
          const id = `${ns.tag}${c}x${i}`
          const method = ['PUT', 'POST', 'GET'][kind]
          // nginx gives up on a replica within its proxy timeouts; longer means the test itself is stuck.
          const signal = AbortSignal.timeout(60000)
          try {
            let res: Response
            if (kind === 0) {
              res = await fetch(`${base}/v1/key/${id}`, { method: 'PUT', body: `v-${id}`, signal })
              if (res.status === 201) puts.set(id, `v-${id}`)
            } else if (kind === 1) {
              res = await fetch(`${base}/v1/users`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ email: `s${id}@example.com`, nickname: `s${id}`, password: 'correct horse battery staple' }),
                signal
              })
              if (res.status === 201) emails.push(`s${id}@example.com`)
            } else {
              res = await fetch(`${base}/health`, { signal })
            }
            await res.arrayBuffer()
            requests++
            rounds[round]!.requests++
            if (res.status >= 300) count(`${method} ${res.status}`)
          } catch (err) {
            const cause = (err as { cause?: { code?: string, message?: string } }).cause
            count(`${method} ${cause?.code || cause?.message || (err instanceof Error ? err.message : String(err))}`)
          }
        }
      }
      clients = Array.from({ length: 8 }, (_, c) => client(c))
      await sleep(1000)
      for (let n = 1; n <= RESTARTS; n++) {
        round = n
        const t = Date.now()
        const before = replicas(started.stackDir)
        const restart = await promisify(execFile)(process.execPath, [join(ROOT, 'scripts', 'stack-restart.js')], { env: { ...process.env, STACK_DIR: started.stackDir }, timeout: 120000 })
        // New processes on the same ports: nginx's upstream never changed, so it was never reloaded.
        const after = replicas(started.stackDir)
        if (!/2 api replicas restarted/.test(restart.stdout)) count(`restart said: ${restart.stdout.trim()}`)
        if (after.map((a) => a.port).join() !== before.map((a) => a.port).join()) count('restart moved a replica to another port')
        if (after.some((a) => before.some((b) => b.pid === a.pid))) count('restart left a replica process running')
        log(`stack.rolling-restart: restart ${n}/${RESTARTS}: ${restart.stdout.trim()} in ${((Date.now() - t) / 1000).toFixed(1)} s, ` +
          `${rounds[n]!.requests} requests, ${rounds[n]!.failed} failed`)
      }
      await sleep(1000)
      running = false
      await Promise.all(clients)
      if (failures.size > 0) log(`stack.rolling-restart: what the stack said:\n${problems.slice(-60).join('\n')}`)

      await waitUntil(() => emails.every((e) => smtp.byRecipient.has(e)), 60000)
      const readBack = new Map<string, number>()
      const keys = [...puts.keys()]
      await pool(keys.length, 8, async (i) => {
        const key = keys[i]!
        const res = await fetch(`${base}/v1/key/${key}`)
        if (res.status === 200 && (await res.text()) === puts.get(key)) readBack.set(key, 1)
      })
      const writes = tally(keys, readBack)
      const mails = tally(emails, smtp.byRecipient)
      const failed = [...failures.values()].reduce((a, b) => a + b, 0)
      return {
        accepted: writes.accepted + mails.accepted,
        delivered: writes.delivered + mails.delivered,
        lost: writes.lost + mails.lost,
        duplicated: mails.duplicated,
        failed,
        notes: `${RESTARTS} rolling restarts; ${requests} requests (per restart: ${rounds.slice(1).map((r) => r.requests).join('/')}); ${writes.accepted} PUTs read back ${writes.delivered}, ${mails.accepted} registrations mailed ${mails.delivered}; ` +
          `failed requests: ${failed ? [...failures].map(([k, v]) => `${v} x ${k}`).join(', ') : 0}`
      }
    } finally {
      running = false
      await Promise.all(clients)
      if (stack) await stack.stop() // SIGTERM: the stack stops nginx, apis and mailer gracefully
      if (sink) await sink.close()
      await ns.cleanup()
    }
  }
}
