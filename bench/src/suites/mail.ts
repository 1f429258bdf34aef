'use strict'
/**
 * Welcome-mail pipeline: messages per second from publish (with confirms)
 * through RabbitMQ and the mailer (validate, render, dedupe claim in
 * Postgres, pooled SMTP send, sent-mark, ack) to a local SMTP server, with
 * 1 and 2 in-process mailers, next to the floor it is built on: raw pooled
 * nodemailer sending the same mails to the same SMTP server in the same run
 * (same pool size per sender, same concurrency as the mailer's prefetch).
 *
 * Two phases per setup: a burst of N messages (throughput = N / time until
 * the last one was accepted by SMTP), then a paced stream (latency =
 * publish -> SMTP accepted, p50/p99), so the latency is not just queueing
 * behind the burst. Uses the built packages (dist); own AMQP prefix and
 * database (harness isolatedEnv), both removed afterwards. Everything runs in this one process
 * (mailers, publisher, SMTP server), so the 2-mailer row measures more
 * concurrency on the same cores, not more machines.
 *
 * `node bench/suites/mail.js` runs it alone; bench/run.js calls run(ctx).
 */
const { randomBytes } = require('node:crypto')
const { once } = require('node:events')
const { join } = require('node:path')
const pino = require('pino')
const nodemailer = require('nodemailer')
const { SMTPServer } = require('smtp-server')
const { BrokerConnection, Publisher } = require('@socialnet/broker')
const { ROOT, AMQP_URL, isolatedEnv, percentile, runIfMain } = require('../harness')

const { loadMailerConfig } = require(join(ROOT, 'apps', 'mailer', 'dist', 'config.js'))
const { startMailerService } = require(join(ROOT, 'apps', 'mailer', 'dist', 'service.js'))
const { renderWelcome } = require(join(ROOT, 'apps', 'mailer', 'dist', 'templates', 'welcome.js'))

const PUBLIC_URL = 'http://localhost:3000'
const PREFETCH = 10
const POOL = 5
/** A mail that has not arrived by then is lost: the run fails instead of waiting forever. */
const DELIVERY_TIMEOUT_MS = 120000

/** A real SMTP server that records when each mail (by the id in its Message-ID) was accepted. */
async function startSink() {
  const accepted = new Map()
  let waiters = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      let head = ''
      stream.on('data', (chunk) => { if (head.length < 4096) head += chunk.toString('latin1') })
      stream.on('end', () => {
        const id = /^Message-ID: <([^@>]+)@/im.exec(head)
        if (id && !accepted.has(id[1])) accepted.set(id[1], performance.now())
        callback()
        waiters = waiters.filter((w) => !w())
      })
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server.server, 'listening')
  return {
    url: `smtp://127.0.0.1:${server.server.address().port}`,
    accepted,
    /** Resolves once every id in `ids` was accepted; rejects after DELIVERY_TIMEOUT_MS. */
    waitFor(ids) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== check)
          reject(new Error(`${ids.filter((id) => !accepted.has(id)).length} of ${ids.length} mails not delivered in ${DELIVERY_TIMEOUT_MS} ms`))
        }, DELIVERY_TIMEOUT_MS)
        const check = () => ids.every((id) => accepted.has(id)) && (clearTimeout(timer), resolve(), true)
        if (!check()) waiters.push(check)
      })
    },
    close: () => new Promise((resolve) => server.close(resolve))
  }
}

function welcome(i) {
  return { to: `user${i}@example.com`, nickname: `user${i}`, verificationUrl: `${PUBLIC_URL}/verify?token=${randomBytes(16).toString('base64url')}` }
}

/** Baseline: raw pooled nodemailer, PREFETCH * senders sends in flight, same rendered mails. */
async function rawNodemailer(sink, n, senders, tag) {
  const transports = Array.from({ length: senders }, () => nodemailer.createTransport({ url: sink.url, pool: true, maxConnections: POOL, maxMessages: 500 }, { from: 'Social Network <noreply@socialnet.local>' }))
  const ids = Array.from({ length: n }, (_, i) => `raw-${tag}-${senders}-${i}`)
  let next = 0
  const cpu = process.cpuUsage()
  const started = performance.now()
  const worker = async (transport) => {
    while (next < n) {
      const i = next++
      await transport.sendMail({ to: `user${i}@example.com`, ...renderWelcome(welcome(i)), messageId: `<${ids[i]}@socialnet.mailer>` })
    }
  }
  await Promise.all(transports.flatMap((t) => Array.from({ length: PREFETCH }, () => worker(t))))
  const elapsed = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  transports.forEach((t) => t.close())
  return { perSecond: n / elapsed, cpuMsPerMail: (used.user + used.system) / 1000 / n }
}

/** The pipeline with `mailers` in-process Mailer services: burst throughput, then paced latency. */
async function pipeline(sink, env, mailers, n, paced, log) {
  const config = loadMailerConfig({ ...env, SMTP_URL: sink.url })
  const quiet = pino({ level: 'silent' })
  const services = []
  const connection = new BrokerConnection({ url: AMQP_URL, name: 'bench-mail-publisher', prefix: config.AMQP_PREFIX, retryDelaysMs: config.retryDelaysMs })
  const publisher = new Publisher(connection, { maxBuffered: n + paced + 10, timeoutMs: 60_000 })
  const tag = randomBytes(3).toString('hex')
  try {
    for (let i = 0; i < mailers; i++) services.push(await startMailerService(config, quiet))
    await connection.connect()
    // Burst: everything published at once; throughput until the last SMTP acceptance.
    const burst = Array.from({ length: n }, (_, i) => `burst-${tag}-${i}`)
    const cpu = process.cpuUsage()
    const started = performance.now()
    await Promise.all(burst.map((messageId, i) => publisher.publish({ type: 'mail.welcome.v1', messageId, payload: welcome(i) })))
    await sink.waitFor(burst)
    const elapsed = (Math.max(...burst.map((id) => sink.accepted.get(id))) - started) / 1000
    const used = process.cpuUsage(cpu)
    const cpuMsPerMail = (used.user + used.system) / 1000 / n
    log(`${mailers} mailer(s): ${n} mails in ${elapsed.toFixed(2)} s`)
    // Paced: one message every 10 ms; latency = publish start -> SMTP accepted.
    const sentAt = new Map()
    const ids = Array.from({ length: paced }, (_, i) => `paced-${tag}-${i}`)
    for (const [i, messageId] of ids.entries()) {
      sentAt.set(messageId, performance.now())
      void publisher.publish({ type: 'mail.welcome.v1', messageId, payload: welcome(i) })
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    await sink.waitFor(ids)
    const latencies = ids.map((id) => sink.accepted.get(id) - sentAt.get(id)).sort((a, b) => a - b)
    return { perSecond: n / elapsed, cpuMsPerMail, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) }
  } finally {
    await publisher.close()
    await connection.close()
    for (const service of services) await service.close(5000)
  }
}

/** @param {{ log?: (msg: string) => void, messages?: number, quick?: boolean }} ctx */
async function run(ctx = {}) {
  const n = ctx.messages || Number(process.env.BENCH_MAIL_MESSAGES) || (ctx.quick ? 500 : 1500)
  const paced = 200
  const log = ctx.log || ((msg) => process.stderr.write(`[mail] ${msg}\n`))
  const ns = isolatedEnv('mail')
  const tag = ns.tag
  const env = {
    ...ns.env,
    PUBLIC_URL,
    MAIL_PREFETCH: String(PREFETCH),
    MAIL_SMTP_POOL: String(POOL),
    LOG_LEVEL: 'silent'
  }
  let sink
  try {
    sink = await startSink()
    const rows = []
    for (const mailers of [1, 2]) {
      const baseline = await rawNodemailer(sink, n, mailers, tag)
      log(`raw nodemailer x${mailers}: ${baseline.perSecond.toFixed(0)} mails/s`)
      const measured = await pipeline(sink, env, mailers, n, paced, log)
      rows.push({
        name: mailers === 2 ? 'mail.e2e' : 'mail.e2e.1mailer',
        value: Math.round(measured.perSecond),
        unit: 'msg/s',
        baseline: 'raw nodemailer -> same SMTP',
        baselineValue: Math.round(baseline.perSecond),
        ratio: Number((measured.perSecond / baseline.perSecond).toFixed(2)),
        extra: {
          p50Ms: Number(measured.p50Ms.toFixed(1)),
          p99Ms: Number(measured.p99Ms.toFixed(1)),
          mailers,
          messages: n,
          prefetch: PREFETCH,
          smtpPool: POOL,
          // CPU of this process (mailers + SMTP server + publisher) per mail; the SMTP server's share is in both.
          cpuMsPerMail: Number(measured.cpuMsPerMail.toFixed(2)),
          baselineCpuMsPerMail: Number(baseline.cpuMsPerMail.toFixed(2))
        }
      })
    }
    return rows
  } finally {
    if (sink) await sink.close()
    await ns.cleanup()
  }
}

module.exports = { run }

runIfMain(module, run)
