/**
 * npm run attacks [-- --target URL [--replicas N] [--shared-address]] [--root DIR] [--label NAME] [attack names...]
 *
 * What one client can do to everyone else, tried and measured: slow connections, images that
 * are cheap to send and dear to decode, event streams, log data from unverified accounts,
 * locking an owner out, and the small leaks. Each attack reports what the attacker got and what
 * a victim (another address, another account) saw meanwhile.
 *
 * Without --target it starts the built api alone on loopback with its defaults (as `npm start`
 * and the api image run it; only the welcome mails are not sent), in a namespace of its own.
 * With --target it aims at a running deployment, e.g. nginx in front of the compose stack
 * (`--target https://127.0.0.1:8443`). The attacker, the victim and the strangers use different
 * loopback source addresses (127.0.0.1, 127.0.0.2, 127.0.x.y), which the api sees as different
 * clients; behind Docker's published ports they all arrive from the one gateway address
 * (--shared-address: the login attack is skipped and the victim's stream is not judged).
 *
 * Bounded: at most 3,000 sockets and a few minutes; everything is closed at the end.
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { connect as netConnect, type Socket } from 'node:net'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { Agent, request, type Dispatcher } from 'undici'
import { Pool } from 'pg'
import { blankPng, multipart } from '@socialnet/testing'
import sharp from 'sharp'
import { ROOT, isolatedEnv, median, percentile } from './harness'
import { sleep, startApi, startChild, type Child } from './faults/testbed'

const ATTACKER = '127.0.0.1'
const VICTIM = '127.0.0.2'
/** Stranger n's address: 127.0.1.n (1-254), then 127.0.2.n. */
const stranger = (n: number): string => `127.0.${1 + Math.floor(n / 254)}.${1 + (n % 254)}`
const PASSWORD = 'attack password 123'

interface Finding { attack: string, before: string, measured: string, held: boolean }
interface Target {
  url: URL
  /** Only when the runner started the api itself: its database, and a worker to start for jobs. */
  db?: Pool
  startWorker?: () => Child
  /** api replicas behind the target (--replicas): each has its own stream caps. */
  replicas: number
  /**
   * Every client reaches the target from one address (--shared-address: Docker's published ports
   * forward from the bridge gateway), so a victim shares the attacker's per-address limits.
   */
  sharedAddress: boolean
  log(message: string): void
}

const agents = new Map<string, Agent>()
function from(address: string): Dispatcher {
  let agent = agents.get(address)
  if (!agent) {
    agent = new Agent({ localAddress: address, connect: { rejectUnauthorized: false }, headersTimeout: 120000, bodyTimeout: 0 })
    agents.set(address, agent)
  }
  return agent
}

interface Answer { status: number, headers: Record<string, string | string[] | undefined>, body: string }
/**
 * One request from `address`. The API-wide per-address rate limit (429 RATE_LIMITED) is not what
 * is measured here, so the attacker waits it out and asks again, as a patient one would.
 */
async function call(t: Target, address: string, method: Dispatcher.HttpMethod, path: string, { headers = {}, json, body }: { headers?: Record<string, string>, json?: unknown, body?: Buffer } = {}): Promise<Answer> {
  for (let attempt = 0; ; attempt++) {
    const res = await request(new URL(path, t.url), {
      method,
      dispatcher: from(address),
      headers: json === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: json === undefined ? body : JSON.stringify(json),
      signal: AbortSignal.timeout(120000)
    })
    const answer = { status: res.statusCode, headers: res.headers, body: await res.body.text() }
    if (!rateLimited(answer.status, answer.body) || attempt >= 30) return answer
    await sleep(1000)
  }
}

const rateLimited = (status: number, body: string): boolean => status === 429 && body.includes('"RATE_LIMITED"')

const tally = (statuses: readonly (number | string)[]): string => {
  const counts = new Map<number | string, number>()
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1)
  return [...counts].sort((a, b) => b[1] - a[1]).map(([s, n]) => `${n} x ${s}`).join(', ')
}

interface Account { id: string, nickname: string, auth: Record<string, string> }
/** Registers from `address` and logs in; accounts for the same test get distinct addresses (REGISTER_RATE_PER_IP). */
async function account(t: Target, address: string, label: string): Promise<Account> {
  const nickname = `${label}${randomBytes(4).toString('hex')}`
  const created = await call(t, address, 'POST', '/v1/users', { json: { email: `${nickname}@example.com`, nickname, password: PASSWORD } })
  if (created.status !== 201) throw new Error(`sign-up from ${address}: ${created.status} ${created.body}`)
  const login = await call(t, address, 'POST', '/v1/sessions', { json: { login: nickname, password: PASSWORD } })
  if (login.status !== 201) throw new Error(`login from ${address}: ${login.status} ${login.body}`)
  return { id: (JSON.parse(created.body) as { id: string }).id, nickname, auth: { authorization: `Bearer ${(JSON.parse(login.body) as { token: string }).token}` } }
}

let accountsMade = 0
/** `n` accounts, registered 5 per stranger address (under the default 10 an hour per address), 10 at a time. */
async function accounts(t: Target, n: number, label: string): Promise<Account[]> {
  const made: Account[] = []
  for (let i = 0; i < n; i += 10) {
    made.push(...await Promise.all(Array.from({ length: Math.min(10, n - i) }, () => account(t, stranger(200 + Math.floor(accountsMade++ / 5)), label))))
  }
  return made
}

/**
 * 3,000 connections from one address, each sending a request line and then one header line
 * every 5 s, never ending the headers (slowloris). Meanwhile another address asks /health
 * every 100 ms. How many the server took, how long it let them live, and the victim's latency.
 */
async function slowHeaders(t: Target): Promise<Finding> {
  const count = 3000
  const windowMs = 30000
  const https = t.url.protocol === 'https:'
  const port = Number(t.url.port || (https ? 443 : 80))
  const sockets: { socket: Socket, opened: number, closed?: number, answered: boolean }[] = []
  const trickle = setInterval(() => {
    for (const s of sockets) if (s.closed === undefined) s.socket.write(`X-Slow-${randomBytes(2).toString('hex')}: 1\r\n`)
  }, 5000)
  const started = Date.now()
  for (let i = 0; i < count; i++) {
    const options = { host: t.url.hostname, port, localAddress: ATTACKER }
    const socket = https ? tlsConnect({ ...options, rejectUnauthorized: false, servername: 'localhost' }) : netConnect(options)
    const entry = { socket, opened: Date.now(), closed: undefined as number | undefined, answered: false }
    sockets.push(entry)
    socket.on('connect', () => socket.write(`GET /health HTTP/1.1\r\nHost: ${t.url.host}\r\n`))
    socket.on('data', () => { entry.answered = true })
    socket.on('error', () => {})
    socket.on('close', () => { entry.closed = Date.now() })
    if (i % 100 === 99) await sleep(20)
  }
  t.log(`slow-headers: ${count} connections opened from ${ATTACKER} in ${Date.now() - started} ms; ${VICTIM} asks /health every 100 ms`)
  const latencies: number[] = []
  const failures: string[] = []
  while (Date.now() - started < windowMs) {
    const asked = performance.now()
    try {
      const res = await call(t, VICTIM, 'GET', '/health')
      if (res.status === 200) latencies.push(performance.now() - asked)
      else failures.push(String(res.status))
    } catch (err) {
      failures.push((err as Error).name)
    }
    await sleep(100)
  }
  clearInterval(trickle)
  const closed = sockets.filter((s) => s.closed !== undefined)
  const refusedAtOnce = closed.filter((s) => s.closed! - s.opened < 1000).length
  const lives = closed.filter((s) => s.closed! - s.opened >= 1000).map((s) => (s.closed! - s.opened) / 1000)
  const open = sockets.length - closed.length
  for (const s of sockets) s.socket.destroy()
  const p99 = percentile([...latencies].sort((a, b) => a - b), 99)
  return {
    attack: `slow headers: ${count} connections from one address`,
    before: 'each lived ~78 s; ~22,000 exhausted the api\'s file descriptors and every request failed',
    measured: `${refusedAtOnce} closed on arrival, ${lives.length} cut${lives.length ? ` after a median ${median(lives).toFixed(1)} s (max ${Math.max(...lives).toFixed(1)} s)` : ''}, ${open} still open after ${windowMs / 1000} s; ` +
      `victim /health: ${latencies.length} x 200, p50 ${median(latencies).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, failed ${failures.length}${failures.length ? ` (${tally(failures)})` : ''}`,
    held: failures.length === 0 && p99 < 100 && open === 0
  }
}

/**
 * One account uploads the 1 x 39,000,000 strip and a 6,000 x 6,000 PNG in a loop, three at a
 * time; another account uploads a 64 x 64 avatar five times meanwhile.
 */
async function imageFlood(t: Target): Promise<Finding> {
  const [attacker, victim] = await accounts(t, 2, 'img')
  const thin = multipart({ data: blankPng(1, 39_000_000), filename: 'a.png' })
  const huge = multipart({ data: blankPng(6000, 6000), filename: 'b.png' })
  const small = multipart({ data: await sharp({ create: { width: 64, height: 64, channels: 3, background: '#3a7' } }).jpeg().toBuffer(), filename: 'c.jpg' })
  const put = (who: Account, address: string, body: ReturnType<typeof multipart>) =>
    call(t, address, 'PUT', `/v1/users/${who.id}/avatar`, { headers: { ...body.headers, ...who.auth }, body: body.payload })
  let running = true
  const attackerStatuses: (number | string)[] = []
  const loop = async () => {
    for (let i = 0; running; i++) {
      const res = await put(attacker!, ATTACKER, i % 2 === 0 ? thin : huge).catch((err: Error) => ({ status: err.name }))
      attackerStatuses.push(res.status)
      if (res.status === 429) await sleep(200)
    }
  }
  const loops = [loop(), loop(), loop()]
  await sleep(3000)
  const times: number[] = []
  const victimStatuses: (number | string)[] = []
  for (let i = 0; i < 5; i++) {
    const asked = performance.now()
    const res = await put(victim!, VICTIM, small).catch((err: Error) => ({ status: err.name }))
    times.push((performance.now() - asked) / 1000)
    victimStatuses.push(res.status)
    await sleep(1000)
  }
  running = false
  await Promise.all(loops)
  return {
    attack: 'images: one account uploads a 1 x 39,000,000 strip and a 6,000 x 6,000 PNG in a loop, 3 at a time',
    before: 'the strip took 15.3 s and held the only encode slot; a 64 x 64 avatar uploaded meanwhile took 23.3 s',
    measured: `attacker: ${tally(attackerStatuses)}; victim's 64 x 64 avatar: ${tally(victimStatuses)}, median ${median(times).toFixed(2)} s, max ${Math.max(...times).toFixed(2)} s`,
    held: victimStatuses.every((s) => s === 201) && Math.max(...times) < 2
  }
}

/** 200 accounts (made from other addresses) open 5 streams each from one address; then a victim opens one. */
async function streamFlood(t: Target): Promise<Finding> {
  const made = await accounts(t, 200, 'sse')
  const [victim] = await accounts(t, 1, 'ssev')
  const open: Dispatcher.ResponseData[] = []
  const statuses: (number | string)[] = []
  const openStream = async (address: string, who: Account, attempt = 0): Promise<number | string> => {
    try {
      const res = await request(new URL('/v1/events', t.url), { dispatcher: from(address), headers: { accept: 'text/event-stream', ...who.auth } })
      if (res.statusCode === 200) {
        open.push(res)
        statuses.push(200)
        return 200
      }
      const text = await res.body.text()
      if (rateLimited(res.statusCode, text) && attempt < 10) {
        await sleep(1000)
        return openStream(address, who, attempt + 1)
      }
      const code = (/"error":"([A-Z_]+)"/.exec(text)?.[1]) ?? ''
      statuses.push(`${res.statusCode} ${code}`.trim())
      return `${res.statusCode} ${code}`.trim()
    } catch (err) {
      statuses.push((err as Error).name)
      return (err as Error).name
    }
  }
  const started = Date.now()
  for (let i = 0; i < made.length; i += 20) {
    await Promise.all(made.slice(i, i + 20).flatMap((who) => Array.from({ length: 5 }, () => openStream(ATTACKER, who))))
  }
  const seconds = (Date.now() - started) / 1000
  const held = open.length
  const victimStatus = await openStream(VICTIM, victim!)
  for (const res of open) res.body.destroy()
  return {
    attack: 'event streams: 200 free accounts x 5 streams from one address',
    before: '1,000 streams (the whole replica) in ~10 s; the next user got 503 EVENT_STREAMS_FULL',
    measured: `attacker holds ${held} streams (${(held / 10 / t.replicas).toFixed(1)} % of ${t.replicas === 1 ? 'a replica\'s 1,000' : `${t.replicas} replicas' ${t.replicas * 1000}`}) after ${seconds.toFixed(1)} s; refused: ${tally(statuses.slice(0, -1).filter((s) => s !== 200)) || 'none'}; victim's stream: ${victimStatus}${t.sharedAddress ? ' (from the attacker\'s address here)' : ''}`,
    held: held <= 100 * t.replicas && (t.sharedAddress || victimStatus === 200)
  }
}

/** 30 unverified accounts submit 10 log jobs of 61 KB each. */
async function jobLog(t: Target): Promise<Finding> {
  const made = await accounts(t, 30, 'log')
  const worker = t.startWorker?.()
  const sizeBefore = t.db ? await tableSize(t.db) : undefined
  // Random text: a repeated letter would shrink to nothing in Postgres' TOAST compression.
  const data = { blob: randomBytes(46 * 1024).toString('base64') }
  const statuses: (number | string)[] = []
  await Promise.all(made.map(async (who) => {
    for (let i = 0; i < 10; i++) {
      const res = await call(t, ATTACKER, 'POST', '/v1/jobs', { headers: who.auth, json: { type: 'log', data } }).catch((err: Error) => ({ status: err.name, body: '' }))
      statuses.push(res.status)
    }
  }))
  let growth = ''
  if (t.db && sizeBefore !== undefined) {
    // The worker writes the accepted rows meanwhile: wait until the table stops growing (at most 60 s).
    const waited = Date.now()
    let size = await tableSize(t.db)
    for (let still = 0; still < 3 && Date.now() - waited < 60000; await sleep(2000)) {
      const now = await tableSize(t.db)
      still = now === size && Date.now() - waited >= 6000 ? still + 1 : 0
      size = now
    }
    growth = `; job_log ${(sizeBefore / 1024).toFixed(0)} kB -> ${(size / 1024).toFixed(0)} kB`
  }
  await worker?.stop()
  return {
    attack: 'job log: 30 unverified accounts x 10 log jobs of 61 KB',
    before: 'all 300 accepted; job_log grew from 64 kB to 19 MB in 10 s, kept 30 days',
    measured: `${tally(statuses)}${growth}`,
    held: statuses.every((s) => s === 403)
  }
}

async function tableSize(db: Pool): Promise<number> {
  const { rows } = await db.query<{ bytes: string }>("SELECT pg_total_relation_size('job_log') AS bytes")
  return Number(rows[0]!.bytes)
}

/** A stranger tries 50 wrong passwords for the owner's nickname from 4 addresses; then the owner logs in. */
async function lockout(t: Target): Promise<Finding | Finding[]> {
  // The owner must come from an address of their own: nobody can tell them from a stranger otherwise.
  if (t.sharedAddress) return []
  const [owner] = await accounts(t, 1, 'own')
  const statuses: number[] = []
  for (let i = 0; i < 50; i++) {
    const login = i % 2 === 0 ? owner!.nickname : owner!.nickname.toUpperCase()
    statuses.push((await call(t, stranger(100 + (i % 4)), 'POST', '/v1/sessions', { json: { login, password: `wrong ${i}` } })).status)
  }
  const res = await call(t, VICTIM, 'POST', '/v1/sessions', { json: { login: owner!.nickname, password: PASSWORD } })
  return {
    attack: 'login: a stranger\'s 50 wrong passwords from 4 addresses, then the owner',
    before: 'the owner got 429 LOGIN_RATE_LIMITED, retry in 895 s (5 failures from anyone locked the account for 15 min)',
    measured: `stranger: ${tally(statuses)}; the owner's first login: ${res.status}`,
    held: res.status === 201
  }
}

/** The smaller findings that a client can see from outside. */
async function smaller(t: Target): Promise<Finding[]> {
  const [who] = await accounts(t, 1, 'sml')
  // A stream that is accepted stays open: its first 5 s are enough to tell.
  const lastId = await request(new URL('/v1/events', t.url), { dispatcher: from(stranger(149)), headers: { ...who!.auth, 'last-event-id': '99999999999999999999-99999999999999999999' }, signal: AbortSignal.timeout(5000) })
    .then(async (res) => ({ status: res.statusCode, body: await res.body.text().catch(() => '(stream open)') }), (err: Error) => ({ status: 0, body: err.name }))
  const requestId = await call(t, ATTACKER, 'GET', '/health', { headers: { 'x-request-id': 'attacker-chosen-id' } })
  const emails = await Promise.all(['x@127.0.0.1', 'a%evil.com@example.com'].map((email, i) =>
    call(t, stranger(150 + i), 'POST', '/v1/users', { json: { email, nickname: `odd${randomBytes(4).toString('hex')}`, password: PASSWORD } })))
  const ready = await call(t, ATTACKER, 'GET', '/ready')
  return [
    {
      attack: 'Last-Event-ID: 99999999999999999999-99999999999999999999',
      before: 'accepted, then the stream closed at once (a browser reconnects every 2 s) and Redis logged ERR Invalid stream ID',
      measured: `${lastId.status} ${lastId.body.slice(0, 80)}`,
      held: lastId.status === 400
    },
    {
      attack: 'X-Request-Id: attacker-chosen-id',
      before: 'became the request id of the api\'s log lines',
      measured: `answered with request id ${String(requestId.headers['x-request-id'])}`,
      held: requestId.headers['x-request-id'] !== 'attacker-chosen-id'
    },
    {
      attack: 'register x@127.0.0.1 and a%evil.com@example.com',
      before: '201 and a welcome mail to each',
      measured: emails.map((e) => e.status).join(' and '),
      held: emails.every((e) => e.status === 400)
    },
    {
      attack: '/ready from outside, without the metrics token',
      before: 'raw dependency errors (connect ECONNREFUSED 127.0.0.1:15432, EEXIST ... mkdir ...) to anyone; nginx passed it',
      measured: `${ready.status} ${ready.body.replace(/\s+/g, ' ').slice(0, 100)}`,
      // With every dependency up there is no error text to leak: the api's tests break one (apps/api/test/ops).
      held: ready.status === 403 || !/ECONN|EEXIST|errno|at \w/.test(ready.body)
    }
  ]
}

const ATTACKS: Record<string, (t: Target) => Promise<Finding | Finding[]>> = {
  'slow-headers': slowHeaders,
  images: imageFlood,
  streams: streamFlood,
  'job-log': jobLog,
  lockout,
  smaller
}

function table(findings: readonly Finding[]): string {
  const cell = (s: string) => s.replace(/\s+/g, ' ').trim().replace(/\|/g, '\\|')
  return ['| attack | before (issue 22) | measured now | held |', '|---|---|---|---|',
    ...findings.map((f) => `| ${cell(f.attack)} | ${cell(f.before)} | ${cell(f.measured)} | ${f.held ? 'yes' : '**no**'} |`)].join('\n')
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const option = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args.splice(i, 2)[1] : undefined }
  const targetUrl = option('--target')
  // Another checkout's built apps (e.g. a worktree of an older commit, for its figures).
  const root = option('--root') ?? ROOT
  const replicas = Number(option('--replicas') ?? 1)
  const sharedAddress = args.includes('--shared-address')
  const label = option('--label') ?? (targetUrl ? 'target' : 'api-alone')
  const wanted = args.filter((a) => !a.startsWith('-'))
  for (const name of wanted) if (!(name in ATTACKS)) throw new Error(`unknown attack ${name}; known: ${Object.keys(ATTACKS).join(', ')}`)
  const log = (message: string) => process.stderr.write(`[attacks] ${message}\n`)

  const ns = targetUrl ? undefined : isolatedEnv('attacks', { scope: 'bench' })
  const started: Child[] = []
  let db: Pool | undefined
  let url = targetUrl
  try {
    if (ns) {
      // The defaults, but no welcome mail leaves (no mailer runs) and one encode slot, as on a 2-core host.
      const api = await startApi({ ...ns.env, LOG_LEVEL: 'warn', IMAGE_ENCODE_SLOTS: '1' }, undefined, root)
      started.push(api)
      url = api.url
      db = new Pool({ connectionString: ns.databaseUrl, max: 2 })
      log(`the api alone at ${url} (pid ${api.child.pid}, ${root}), defaults`)
    }
    const startWorker = ns && (() => {
      const worker = startChild('worker', { ...ns.env, LOG_LEVEL: 'warn' }, { script: join(root, 'apps', 'worker', 'dist', 'server.js') })
      started.push(worker)
      return worker
    })
    const t: Target = { url: new URL(url!), db, startWorker: startWorker || undefined, replicas, sharedAddress, log }
    const findings: Finding[] = []
    for (const [name, attack] of Object.entries(ATTACKS)) {
      if (wanted.length > 0 && !wanted.includes(name)) continue
      log(`${name}: running`)
      const began = Date.now()
      const found = [await attack(t)].flat()
      for (const f of found) log(`${name}: ${f.measured} (${f.held ? 'held' : 'NOT HELD'}, ${((Date.now() - began) / 1000).toFixed(0)} s)`)
      findings.push(...found)
    }
    const out = table(findings)
    process.stdout.write(`\n${label}: ${t.url.origin}\n\n${out}\n`)
    writeFileSync(join(ROOT, 'bench', 'results', `attacks-${label}.json`), JSON.stringify({ label, target: t.url.origin, at: new Date().toISOString(), findings }, null, 2) + '\n')
    if (findings.some((f) => !f.held)) process.exitCode = 1
  } finally {
    for (const agent of agents.values()) await agent.destroy().catch(() => {})
    await db?.end()
    for (const child of started.reverse()) await child.stop()
    await ns?.cleanup()
  }
}

main().catch((err) => {
  process.stderr.write(`[attacks] ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
