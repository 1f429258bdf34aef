/**
 * What the event path costs the work it watches (`events.overhead.*`): the
 * same work with EVENTS=on divided by the same with EVENTS=off, interleaved
 * round for round in one run. Each side runs in its own namespace (AMQP
 * prefix, database, Redis keys) with its own api process; the EVENTS=on
 * side's api collects every event into its Redis stream (no SSE client
 * watches), the EVENTS=off side's publishes and collects nothing.
 *
 * - `events.overhead.mail`: `mail.e2e`'s pipeline (2 in-process mailers,
 *   bursts of welcome mails to a local SMTP server, each with the `x-user-id`
 *   header the api puts on it, so each event also gets its owner's copy):
 *   two events per mail (`mail.consumed`, `mail.sent`), published by the
 *   mailers and collected by the side's api. msg/s; CPU is this process's
 *   (mailers, publisher, SMTP server) per mail, the api's is not in it.
 * - `events.overhead.jobs`: `jobs.enqueue`'s load (`POST /v1/jobs`, 32
 *   connections, no worker) on the two apis; one `job.status` event per job,
 *   published and collected by the same api. req/s; CPU is the api
 *   process's per 202.
 *
 * Goal of both: the EVENTS=on side keeps at least 95 % of the EVENTS=off
 * side's rate (median of the per-round ratios).
 *
 * `node bench/dist/suites/events-overhead.js` runs it alone; bench/dist/run.js calls run(ctx).
 */
import { randomUUID } from 'node:crypto'
import amqplib from 'amqplib'
import { AMQP_URL, interleave, processCpuMs, isolatedEnv, medians, roundsFor, row, runIfMain, startApi, type BenchEnv, type Row, type Started, type SuiteContext } from '../harness'
import type { Goal } from '../stats'
import { MAIL_SETTINGS, PREFETCH, POOL, WARM_UP as WARM_UP_MAILS, pipelineVersusPipeline, startSink, type Sink } from './mail'
import { apiLoad, verifiedUser } from './jobs'

/** Events may cost the work they watch at most 5 %. */
const GOALS: Goal[] = [{ on: 'ratio', op: '>=', target: 0.95 }]
/** The api beside the mailers only collects: its outbox relay would poll a table nothing writes. */
const COLLECTING_API = { OUTBOX_POLL_MS: '600000' }

async function mailOverhead(sink: Sink, n: number, rounds: number, log: (m: string) => void): Promise<Row> {
  /** Each side's api CPU over the whole run (warm-up included), read just before it stops: the collector's share of a mail. */
  const apiCpuMs: Record<string, number> = {}
  const side = (events: 'on' | 'off') => ({
    env: { ...MAIL_SETTINGS, EVENTS: events },
    headers: { 'x-user-id': randomUUID() },
    prepare: async (env: Record<string, string>) => {
      const api = await startApi({ ...env, ...COLLECTING_API, LOG_LEVEL: 'warn' }, { readyPath: '/ready' })
      const started = processCpuMs(api.pid)
      return async () => {
        apiCpuMs[events] = processCpuMs(api.pid) - started
        await api.stop()
      }
    }
  })
  log(`events.overhead.mail: EVENTS=on vs off, 2 mailers each side, ${rounds} interleaved bursts of ${n} mails`)
  const summary = await pipelineVersusPipeline(sink, 'events.overhead.mail', n, rounds, log, side('off'), side('on'))
  // Every burst of the run: the warm-up's and the rounds'.
  const mails = WARM_UP_MAILS + rounds * n
  const perMail = (events: string) => apiCpuMs[events] === undefined ? undefined : Math.round((apiCpuMs[events]! * 1000) / mails)
  return row('events.overhead.mail', 'msg/s', 'same pipeline with EVENTS=off', summary, {
    goals: GOALS,
    notes: '2 mailers each side, each with an api collecting its events (EVENTS=on: mail.consumed + mail.sent per mail, with an owner); CPU: this process (mailers + publisher + SMTP server) per mail; apiCpuUsPerMail: the side\'s api (collector) over the run',
    extra: { messagesPerRound: n, prefetch: PREFETCH, smtpPool: POOL, apiCpuUsPerMail: perMail('on'), baselineApiCpuUsPerMail: perMail('off') }
  })
}

/** One api with its own namespace and a verified user who submits the jobs. */
async function jobsSide(events: 'on' | 'off'): Promise<{ ns: BenchEnv, api: Started, authorization: string, purge(): Promise<void>, close(): Promise<void> }> {
  const ns = isolatedEnv(`jobs${events}`)
  let api: Started | undefined
  let admin: amqplib.ChannelModel | undefined
  try {
    api = await startApi({ ...ns.env, EVENTS: events, OUTBOX_POLL_MS: '600000', JOB_RATE_PER_MINUTE: '0' }, { readyPath: '/ready' })
    const { authorization } = await verifiedUser(api, ns.databaseUrl)
    admin = await amqplib.connect(AMQP_URL)
    const channel = await admin.createChannel()
    const started = api
    const connection = admin
    return {
      ns,
      api: started,
      authorization,
      // No worker runs: every round starts on an empty jobs queue.
      purge: async () => { await channel.purgeQueue(ns.names.queues.jobs.name) },
      close: async () => {
        await started.stop().catch(() => {})
        await connection.close().catch(() => {})
        await ns.cleanup()
      }
    }
  } catch (err) {
    if (api) await api.stop().catch(() => {})
    if (admin) await admin.close().catch(() => {})
    await ns.cleanup()
    throw err
  }
}

async function jobsOverhead(durationSec: number, connections: number, rounds: number, log: (m: string) => void): Promise<Row> {
  const sides: Awaited<ReturnType<typeof jobsSide>>[] = []
  try {
    sides.push(await jobsSide('off'))
    sides.push(await jobsSide('on'))
    const [off, on] = sides as [typeof sides[0], typeof sides[0]]
    const submit = async (side: typeof off, seconds: number) => {
      const r = await apiLoad(side.api, side.authorization, connections, seconds)
      await side.purge()
      return r
    }
    log(`events.overhead.jobs: EVENTS=on vs off, ${rounds} interleaved rounds of ${durationSec} s of POST /v1/jobs, ${connections} concurrent`)
    const got = await interleave(() => submit(off, durationSec), () => submit(on, durationSec), {
      rounds,
      log: (m) => log(`events.overhead.jobs: ${m}`),
      warmUp: { baseline: () => submit(off, 1), subject: () => submit(on, 1) }
    })
    return row('events.overhead.jobs', 'req/s', 'same api with EVENTS=off', got.summary, {
      goals: GOALS,
      notes: 'POST /v1/jobs on two apis, one job.status per job published and collected by the EVENTS=on one; CPU: api process per 202',
      extra: { ...medians(got.subject, ['p99Ms', 'non2xx', 'errors']), baselineP99Ms: medians(got.baseline, ['p99Ms'], 2).p99Ms, connections, durationSec }
    })
  } finally {
    for (const side of sides) await side.close()
  }
}

export async function run(ctx: SuiteContext = {}): Promise<Row[]> {
  const rounds = roundsFor(ctx.quick)
  const n = Number(process.env.BENCH_MAIL_MESSAGES) || (ctx.quick ? 400 : 800)
  const durationSec = Number(process.env.BENCH_JOBS_SECONDS) || (ctx.quick ? 2 : 4)
  const log = ctx.log || ((msg: string) => process.stderr.write(`[events.overhead] ${msg}\n`))
  const rows: Row[] = []
  const sink = await startSink()
  try {
    rows.push(await mailOverhead(sink, n, rounds, log))
  } finally {
    await sink.close()
  }
  rows.push(await jobsOverhead(durationSec, 32, rounds, log))
  return rows
}

runIfMain(module, run)
