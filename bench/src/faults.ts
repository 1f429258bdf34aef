/**
 * `npm run test:faults`: injects real faults on this machine (kill -9,
 * broker stop/start, a Redis restart, a misbehaving SMTP server, poison
 * messages, a rolling restart behind nginx) while work flows, and counts for
 * each what was accepted, delivered, lost and duplicated. Lost must be 0:
 * the exit code is 1 if anything was lost, a fault could not be run, or a
 * fault that promises at most `failedAllowed` failed requests failed more.
 *
 *   node bench/dist/faults.js [--quick] [fault names...]   e.g. `-- --quick poison`
 *
 * Prints a markdown table and writes bench/results/faults.json. Every fault
 * works in its own database, AMQP prefix, Redis prefix and temp dir, removed
 * afterwards; RabbitMQ is always started again (start_app in a finally) and
 * the shared Redis is never touched (the Redis fault runs a private one).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { apiKill } from './faults/kv'
import { mailerKill, poison, smtpStall } from './faults/mail'
import { ensureRabbitRunning, rabbitmqRestart } from './faults/rabbitmq'
import { redisRestart } from './faults/redis'
import { rollingRestart } from './faults/stack'
import { killAll, type FaultOutcome } from './faults/testbed'

const FAULTS = [mailerKill, smtpStall, poison, apiKill, redisRestart, rabbitmqRestart, rollingRestart]
const RESULTS = join(__dirname, '..', 'results')

type Result = Partial<FaultOutcome> & { name: string, fault: string, failedAllowed?: number, error?: string, seconds: number }

function table(results: readonly Result[]): string {
  const lines = [
    '| fault | injected | accepted | delivered | lost | duplicated | failed requests | seconds | notes |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|'
  ]
  for (const r of results) {
    lines.push(`| ${r.name} | ${r.fault} | ${r.accepted ?? '-'} | ${r.delivered ?? '-'} | ${r.lost ?? '-'} | ${r.duplicated ?? '-'} | ${r.failed ?? '-'} | ${r.seconds} | ${r.error ? `FAILED: ${r.error}` : r.notes ?? ''} |`)
  }
  return lines.join('\n')
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick') || process.env.FAULTS_QUICK === '1'
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'))
  const unknown = wanted.filter((w) => !FAULTS.some((f) => f.name === w))
  if (unknown.length) {
    console.error(`unknown fault(s): ${unknown.join(', ')}; known: ${FAULTS.map((f) => f.name).join(', ')}`)
    process.exit(2)
  }
  const log = (m: string) => console.error(`[faults] ${m}`)
  const results: Result[] = []
  const started = Date.now()
  for (const fault of FAULTS.filter((f) => !wanted.length || wanted.includes(f.name))) {
    log(`${fault.name}: ${fault.fault}`)
    const t = Date.now()
    try {
      const outcome = await fault.run({ quick, log })
      results.push({ name: fault.name, fault: fault.fault, failedAllowed: fault.failedAllowed, ...outcome, seconds: Math.round((Date.now() - t) / 1000) })
      log(`${fault.name}: accepted ${outcome.accepted}, delivered ${outcome.delivered}, lost ${outcome.lost}, duplicated ${outcome.duplicated}`)
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      results.push({ name: fault.name, fault: fault.fault, error: message.split('\n')[0], seconds: Math.round((Date.now() - t) / 1000) })
      log(`${fault.name} failed: ${err instanceof Error ? err.stack : message}`)
    }
  }
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version }
  const report = { quick, results, machine, seconds: Math.round((Date.now() - started) / 1000), at: new Date().toISOString() }
  mkdirSync(RESULTS, { recursive: true })
  writeFileSync(join(RESULTS, 'faults.json'), JSON.stringify(report, null, 2) + '\n')
  console.log(table(results))
  const lost = results.filter((r) => (r.lost ?? 0) > 0)
  const failed = results.filter((r) => r.error)
  const tooManyFailed = results.filter((r) => r.failedAllowed !== undefined && (r.failed ?? 0) > r.failedAllowed)
  console.log(`\n${results.length} faults in ${report.seconds} s${quick ? ' (quick)' : ''}; written to bench/results/faults.json`)
  if (lost.length || failed.length || tooManyFailed.length) {
    console.error(`LOST in: ${lost.map((r) => r.name).join(', ') || 'none'}; could not run: ${failed.map((r) => r.name).join(', ') || 'none'}; ` +
      `failed requests beyond what is allowed in: ${tooManyFailed.map((r) => `${r.name} (${r.failed} > ${r.failedAllowed})`).join(', ') || 'none'}`)
    process.exitCode = 1
  }
}

// An interrupted or crashed run must not leave RabbitMQ stopped or children running.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll()
    ensureRabbitRunning()
    process.exit(130)
  })
}
process.on('uncaughtException', (err) => {
  console.error('[faults] crashed:', err)
  killAll()
  ensureRabbitRunning()
  process.exit(1)
})

main().catch((err: unknown) => { console.error(err); process.exitCode = 1 }).finally(() => { killAll(); ensureRabbitRunning() })
