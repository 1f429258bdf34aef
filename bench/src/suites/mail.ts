/**
 * Welcome-mail pipeline: messages per second from publish (with confirms)
 * through RabbitMQ and the mailer (validate, render, dedupe claim in
 * Postgres, pooled SMTP send, sent-mark, ack) to a local SMTP server, with
 * 1 and 2 in-process mailers, next to the floor it is built on: raw pooled
 * nodemailer sending the same mails to the same SMTP server (same pool size
 * per sender, same concurrency as the mailer's prefetch).
 *
 * Per setup, after a small warm-up burst of each, bursts of N messages
 * alternate: raw, pipeline, raw, pipeline, ... (throughput = N / time until
 * the last one was accepted by SMTP); then one paced stream (latency =
 * publish -> SMTP accepted, p50/p99), so the latency is not just queueing
 * behind a burst. Uses the built packages (dist); own AMQP prefix and
 * database (harness isolatedEnv), both removed afterwards. Everything runs
 * in this one process (mailers, publisher, SMTP server), so the 2-mailer row
 * measures more concurrency on the same cores, not more machines, and CPU
 * per mail is this process's (the SMTP server's share is in both sides).
 *
 * Two more rows set the pipeline against itself, in namespaces of their own
 * and interleaved burst for burst: `mail.e2e.sender` (the suppression check
 * against a list of 10,000 addresses, and the domain pace through Redis at a
 * rate no burst reaches) and `mail.e2e.dkim` (every mail DKIM-signed).
 *
 * `node bench/dist/suites/mail.js` runs it alone; bench/dist/run.js calls run(ctx).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Pool } from 'pg'
import type { AddressInfo } from 'node:net'
import pino from 'pino'
import nodemailer, { type Transporter } from 'nodemailer'
import { SMTPServer } from 'smtp-server'
import { BrokerConnection, Publisher } from '@socialnet/broker'
import { loadMailerConfig } from '@socialnet/mailer/dist/config.js'
import { startMailerService, type MailerService, type MailerServiceOptions } from '@socialnet/mailer/dist/service.js'
import { renderWelcome } from '@socialnet/mailer/dist/templates/welcome.js'
import { AMQP_URL, interleave, isolatedEnv, ownCpu, percentile, roundsFor, row, runIfMain, type Row, type SuiteContext } from '../harness'
import type { Goal } from '../stats'

export const PUBLIC_URL = 'http://localhost:3000'
export const PREFETCH = 10
export const POOL = 5
/** A mail that has not arrived by then is lost: the run fails instead of waiting forever. */
const DELIVERY_TIMEOUT_MS = 120000
export const WARM_UP = 100
/** The mailers' settings in every mail row. */
export const MAIL_SETTINGS = {
  PUBLIC_URL,
  MAIL_PREFETCH: String(PREFETCH),
  MAIL_SMTP_POOL: String(POOL),
  // Every bench mail goes to example.com: the pace would measure itself, not the pipeline.
  MAIL_DOMAIN_RATE_PER_MINUTE: '0',
  LOG_LEVEL: 'silent'
}
const PACED = 200
/** Two mailers must deliver at least 60 % of what raw nodemailer with two senders does. */
const E2E_GOALS: Goal[] = [{ on: 'ratio', op: '>=', target: 0.6 }]
/** The suppression check and the domain pace may cost the pipeline at most 5 %. */
const SENDER_GOALS: Goal[] = [{ on: 'ratio', op: '>=', target: 0.95 }]
/** Addresses on the subject's suppression list (none of them a bench recipient): the lookup runs against a real index. */
const SUPPRESSED_ROWS = 10_000
/** A pace no bench burst reaches (all bench mail goes to example.com): the row measures the limiter's cost, not its throttling. */
const UNREACHED_PACE_PER_MINUTE = '1000000'

/**
 * One side of a pipeline-vs-pipeline row: its own namespace (queues, database), env and service
 * options; `prepare` runs once its mailers are up, given the side's whole env, and may return what
 * stops whatever it started beside them (events.overhead: an api process that collects the events).
 */
export interface Variant {
  env: Record<string, string>
  options?: MailerServiceOptions
  prepare?: (env: Record<string, string>) => Promise<void | (() => Promise<void>)>
  /** AMQP headers of every mail published (events.overhead: the `x-user-id` the api puts on a welcome mail). */
  headers?: Record<string, string>
}

/**
 * Two pipelines of 2 mailers each, in namespaces of their own, interleaved
 * burst for burst: the row is what the subject's feature costs the pipeline.
 */
export async function pipelineVersusPipeline(sink: Sink, name: string, n: number, rounds: number, log: (m: string) => void, baseline: Variant, subject: Variant) {
  const spaces = [isolatedEnv('mailbase'), isolatedEnv('mailsubj')]
  const sides: Awaited<ReturnType<typeof pipeline>>[] = []
  const companions: (() => Promise<void>)[] = []
  try {
    for (const [i, variant] of [baseline, subject].entries()) {
      const ns = spaces[i]!
      // The variant's settings, then its own namespace: the two pipelines never share a queue or a database.
      const env = { ...variant.env, ...ns.env }
      const side = await pipeline(sink, env, 2, n + WARM_UP, variant.options, variant.headers)
      sides.push(side)
      const stop = await variant.prepare?.(env)
      if (stop) companions.push(stop)
    }
    const [base, subj] = sides as [typeof sides[0], typeof sides[0]]
    const got = await interleave((): Promise<Burst> => base.burst(n), () => subj.burst(n), {
      rounds,
      log: (m) => log(`${name}: ${m}`),
      warmUp: { baseline: () => base.burst(WARM_UP), subject: () => subj.burst(WARM_UP) }
    })
    return got.summary
  } finally {
    for (const side of sides) await side.close()
    for (const stop of companions) await stop()
    for (const ns of spaces) await ns.cleanup()
  }
}

/** Fills the suppression list with addresses no bench mail goes to. */
async function suppressMany(env: Record<string, string>): Promise<void> {
  const pool = new Pool({ connectionString: env.DATABASE_URL, max: 1 })
  try {
    await pool.query(
      `INSERT INTO mail_suppressions (address, reason, source)
       SELECT 'gone' || g || '@example.net', 'hard_bounce', 'bench' FROM generate_series(1, $1::int) g`, [SUPPRESSED_ROWS]
    )
  } finally {
    await pool.end()
  }
}

export interface Sink {
  url: string
  accepted: Map<string, number>
  waitFor(ids: readonly string[]): Promise<void>
  close(): Promise<void>
}

/** A real SMTP server that records when each mail (by the id in its Message-ID) was accepted. */
export async function startSink(): Promise<Sink> {
  const accepted = new Map<string, number>()
  let waiters: (() => boolean)[] = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      let head = ''
      stream.on('data', (chunk: Buffer) => { if (head.length < 4096) head += chunk.toString('latin1') })
      stream.on('end', () => {
        const id = /^Message-ID: <([^@>]+)@/im.exec(head)?.[1]
        if (id && !accepted.has(id)) accepted.set(id, performance.now())
        callback()
        waiters = waiters.filter((w) => !w())
      })
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server.server, 'listening')
  return {
    url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`,
    accepted,
    /** Resolves once every id in `ids` was accepted; rejects after DELIVERY_TIMEOUT_MS. */
    waitFor(ids) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== check)
          reject(new Error(`${ids.filter((id) => !accepted.has(id)).length} of ${ids.length} mails not delivered in ${DELIVERY_TIMEOUT_MS} ms`))
        }, DELIVERY_TIMEOUT_MS)
        const check = (): boolean => {
          if (!ids.every((id) => accepted.has(id))) return false
          clearTimeout(timer)
          resolve()
          return true
        }
        if (!check()) waiters.push(check)
      })
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

function welcome(i: number) {
  return { to: `user${i}@example.com`, nickname: `user${i}`, verificationUrl: `${PUBLIC_URL}/verify?token=${randomBytes(16).toString('base64url')}` }
}

interface Burst { value: number, cpuUsPerOp: number }

/** Baseline: `senders` pooled transports, PREFETCH sends in flight on each, the same rendered mails. */
function rawNodemailer(sink: Sink, senders: number) {
  const transports = Array.from({ length: senders }, () => nodemailer.createTransport({ url: sink.url, pool: true, maxConnections: POOL, maxMessages: 500 }, { from: 'Social Network <noreply@socialnet.local>' }))
  let bursts = 0
  return {
    async burst(n: number): Promise<Burst> {
      const tag = `raw-${randomBytes(3).toString('hex')}-${senders}-${bursts++}`
      const ids = Array.from({ length: n }, (_, i) => `${tag}-${i}`)
      let next = 0
      const { result: elapsed, cpuUs } = await ownCpu(async () => {
        const started = performance.now()
        const worker = async (transport: Transporter) => {
          while (next < n) {
            const i = next++
            await transport.sendMail({ to: `user${i}@example.com`, ...renderWelcome(welcome(i)), messageId: `<${ids[i]}@socialnet.mailer>` })
          }
        }
        await Promise.all(transports.flatMap((t) => Array.from({ length: PREFETCH }, () => worker(t))))
        return (performance.now() - started) / 1000
      })
      return { value: n / elapsed, cpuUsPerOp: cpuUs / n }
    },
    close() { transports.forEach((t) => t.close()) }
  }
}

/** The pipeline with `mailers` in-process Mailer services; burst() measures one burst, paced() the latency. */
async function pipeline(sink: Sink, env: Record<string, string>, mailers: number, maxBuffered: number, options: MailerServiceOptions = {}, headers?: Record<string, string>) {
  const config = loadMailerConfig({ ...env, SMTP_URL: sink.url })
  const quiet = pino({ level: 'silent' })
  const services: MailerService[] = []
  const connection = new BrokerConnection({ url: AMQP_URL, name: 'bench-mail-publisher', prefix: config.AMQP_PREFIX, retryDelaysMs: config.retryDelaysMs })
  const publisher = new Publisher(connection, { maxBuffered, timeoutMs: 60_000 })
  const tag = randomBytes(3).toString('hex')
  let bursts = 0
  const close = async () => {
    await publisher.close()
    await connection.close()
    for (const service of services) await service.close(5000)
  }
  try {
    for (let i = 0; i < mailers; i++) services.push(await startMailerService(config, quiet, options))
    await connection.connect()
  } catch (err) {
    await close()
    throw err
  }
  return {
    close,
    /** Everything published at once; throughput until the last SMTP acceptance. */
    async burst(n: number): Promise<Burst> {
      const ids = Array.from({ length: n }, (_, i) => `burst-${tag}-${bursts}-${i}`)
      bursts++
      const { result: elapsed, cpuUs } = await ownCpu(async () => {
        const started = performance.now()
        await Promise.all(ids.map((messageId, i) => publisher.publish({ type: 'mail.welcome.v1', messageId, payload: welcome(i), headers })))
        await sink.waitFor(ids)
        return (Math.max(...ids.map((id) => sink.accepted.get(id)!)) - started) / 1000
      })
      return { value: n / elapsed, cpuUsPerOp: cpuUs / n }
    },
    /** One message every 10 ms; latency = publish start -> SMTP accepted, sorted. */
    async paced(count: number): Promise<number[]> {
      const sentAt = new Map<string, number>()
      const ids = Array.from({ length: count }, (_, i) => `paced-${tag}-${i}`)
      for (const [i, messageId] of ids.entries()) {
        sentAt.set(messageId, performance.now())
        void publisher.publish({ type: 'mail.welcome.v1', messageId, payload: welcome(i) })
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      await sink.waitFor(ids)
      return ids.map((id) => sink.accepted.get(id)! - sentAt.get(id)!).sort((a, b) => a - b)
    }
  }
}

export async function run(ctx: SuiteContext & { messages?: number } = {}): Promise<Row[]> {
  const n = ctx.messages || Number(process.env.BENCH_MAIL_MESSAGES) || (ctx.quick ? 400 : 800)
  const rounds = roundsFor(ctx.quick)
  const log = ctx.log || ((msg: string) => process.stderr.write(`[mail] ${msg}\n`))
  const ns = isolatedEnv('mail')
  const env = { ...ns.env, ...MAIL_SETTINGS }
  let sink: Sink | undefined
  try {
    sink = await startSink()
    const rows: Row[] = []
    for (const mailers of [1, 2]) {
      const name = mailers === 2 ? 'mail.e2e' : 'mail.e2e.1mailer'
      log(`mail: ${mailers} mailer(s), ${rounds} interleaved bursts of ${n} mails each side`)
      const raw = rawNodemailer(sink, mailers)
      const piped = await pipeline(sink, env, mailers, n + PACED + WARM_UP)
      try {
        const got = await interleave((): Promise<Burst> => raw.burst(n), () => piped.burst(n), {
          rounds,
          log: (m) => log(`${name}: ${m}`),
          warmUp: { baseline: () => raw.burst(WARM_UP), subject: () => piped.burst(WARM_UP) }
        })
        const latencies = await piped.paced(PACED)
        rows.push(row(name, 'msg/s', 'raw nodemailer -> same SMTP', got.summary, {
          goals: mailers === 2 ? E2E_GOALS : undefined,
          notes: 'CPU: this process (mailers + publisher + SMTP server) per mail',
          extra: {
            p50Ms: Number(percentile(latencies, 50).toFixed(1)),
            p99Ms: Number(percentile(latencies, 99).toFixed(1)),
            mailers,
            messagesPerRound: n,
            prefetch: PREFETCH,
            smtpPool: POOL
          }
        }))
      } finally {
        raw.close()
        await piped.close()
      }
    }

    log(`mail.e2e.sender: suppression check + domain pace on vs off, ${rounds} interleaved bursts of ${n} mails each side`)
    rows.push(row('mail.e2e.sender', 'msg/s', 'same pipeline without the suppression check and pace', await pipelineVersusPipeline(sink, 'mail.e2e.sender', n, rounds, log,
      { env: { ...MAIL_SETTINGS, MAIL_DOMAIN_RATE_PER_MINUTE: '0' }, options: { checkSuppressions: false } },
      { env: { ...MAIL_SETTINGS, MAIL_DOMAIN_RATE_PER_MINUTE: UNREACHED_PACE_PER_MINUTE }, prepare: suppressMany }
    ), {
      goals: SENDER_GOALS,
      notes: `2 mailers each side; subject: every mail looked up in a suppression list of ${SUPPRESSED_ROWS} addresses and paced through Redis (${UNREACHED_PACE_PER_MINUTE}/min, never reached)`
    }))

    const keyDir = mkdtempSync(join(tmpdir(), 'socialnet-bench-dkim-'))
    try {
      const keyFile = join(keyDir, 'dkim.pem')
      writeFileSync(keyFile, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
      log(`mail.e2e.dkim: DKIM signing on vs off, ${rounds} interleaved bursts of ${n} mails each side`)
      rows.push(row('mail.e2e.dkim', 'msg/s', 'same pipeline unsigned', await pipelineVersusPipeline(sink, 'mail.e2e.dkim', n, rounds, log,
        { env: MAIL_SETTINGS },
        { env: { ...MAIL_SETTINGS, DKIM_DOMAIN: 'socialnet.local', DKIM_SELECTOR: 'bench', DKIM_PRIVATE_KEY_FILE: keyFile } }
      ), { notes: '2 mailers each side; rsa-sha256 with a 2048-bit key (nodemailer signs each mail)' }))
    } finally {
      rmSync(keyDir, { recursive: true, force: true })
    }
    return rows
  } finally {
    if (sink) await sink.close()
    await ns.cleanup()
  }
}

runIfMain(module, run)
