/**
 * rabbitmq.stop-start: `rabbitmqctl stop_app` for ~5 s, then `start_app`,
 * while clients keep registering through the api (built, child process).
 * Registration writes the welcome mail into the outbox in the same
 * transaction, so every 201 must become exactly one mail at the SMTP server
 * once the api's relay and the mailer have reconnected by themselves.
 *
 * The broker is shared with everything else on this machine: the outage is
 * kept short and start_app runs in a finally (and on SIGINT, see faults.ts).
 */
import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import { namespace, sleep, startApi, startChild, startSmtpSink, tally, waitUntil, type Api, type Child, type Fault } from './testbed'

const run = promisify(execFile)
const RABBITMQCTL = process.env.RABBITMQCTL || 'rabbitmqctl'
const OUTAGE_MS = 5000
let stoppedByUs = false

async function rabbitmqctl(...args: string[]): Promise<void> {
  await run(RABBITMQCTL, args, { timeout: 120000 })
}

/** Synchronous start_app for exit paths; does nothing unless this process stopped the broker. */
export function ensureRabbitRunning(): void {
  if (!stoppedByUs) return
  try {
    execFileSync(RABBITMQCTL, ['start_app'], { stdio: 'ignore', timeout: 120000 })
    stoppedByUs = false
  } catch (err) {
    process.stderr.write(`[faults] could not start RabbitMQ again, run: rabbitmqctl start_app (${err instanceof Error ? err.message : String(err)})\n`)
  }
}

/** One client: registers users one after the other until stop() is called; remembers every 201's email. */
export function registrationLoad(url: string, tag: string, clients: number) {
  const accepted: string[] = []
  const failures = new Map<string | number, number>()
  let running = true
  let n = 0
  const client = async () => {
    while (running) {
      const i = n++
      const email = `r${tag}${i}@example.com`
      try {
        const res = await fetch(`${url}/v1/users`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email, nickname: `r${tag}${i}`, password: 'correct horse battery staple' }),
          signal: AbortSignal.timeout(30000)
        })
        await res.arrayBuffer()
        if (res.status === 201) accepted.push(email)
        else failures.set(res.status, (failures.get(res.status) || 0) + 1)
      } catch (err) {
        const name = err instanceof Error ? err.name : 'Error'
        failures.set(name, (failures.get(name) || 0) + 1)
      }
    }
  }
  const done = Promise.all(Array.from({ length: clients }, client))
  return { accepted, failures, async stop() { running = false; await done } }
}

export const rabbitmqRestart: Fault = {
  name: 'rabbitmq.stop-start',
  fault: `rabbitmqctl stop_app, ${OUTAGE_MS / 1000} s, start_app, during registrations`,
  async run({ log }) {
    const ns = namespace('rabbit')
    const sink = await startSmtpSink()
    let api: Api | undefined
    let mailer: Child | undefined
    let load: ReturnType<typeof registrationLoad> | undefined
    try {
      api = await startApi(ns.env)
      // Every recipient is at example.com and the api answers ~300 sign-ups a second while the broker
      // is away: at the default per-domain pace (600 a minute) the backlog alone would take minutes
      // to drain. The pace is not what this fault is about (smtp.stall-refuse runs with it), so it is off.
      mailer = startChild('mailer', { ...ns.env, SMTP_URL: sink.url, MAIL_SEND_TIMEOUT_MS: '5000', MAIL_DOMAIN_RATE_PER_MINUTE: '0' })
      const running = load = registrationLoad(api.url, ns.tag, 4)
      await sleep(2000)
      const before = running.accepted.length
      log(`rabbitmq.stop-start: ${before} registrations so far; stop_app`)
      stoppedByUs = true
      try {
        await rabbitmqctl('stop_app')
        await sleep(OUTAGE_MS)
      } finally {
        await rabbitmqctl('start_app')
        stoppedByUs = false
        await rabbitmqctl('await_startup').catch(() => {})
      }
      const during = running.accepted.length - before
      log(`rabbitmq.stop-start: start_app done (${during} registrations meanwhile)`)
      await sleep(3000)
      await running.stop()
      const emails = running.accepted
      await waitUntil(() => emails.every((e) => sink.byRecipient.has(e)), 90000)
      await sleep(2000) // let a duplicate, if any, arrive
      const failed = [...running.failures].map(([k, v]) => `${v} x ${k}`).join(', ')
      return {
        ...tally(emails, sink.byRecipient),
        failed: [...running.failures.values()].reduce((a, b) => a + b, 0),
        notes: `registrations answered 201 while the broker was down: ${during}; welcome mails counted by recipient${failed ? `; failed requests: ${failed}` : ''}`
      }
    } finally {
      ensureRabbitRunning()
      if (load) await load.stop()
      if (mailer) await mailer.stop()
      if (api) await api.stop()
      await sink.close()
      await ns.cleanup()
    }
  }
}
