/**
 * `npm run bench`: runs each suite (all, or those named on the command line:
 * `npm run bench -- kv jobs`), prints one markdown table and writes
 * bench/results/latest.json (a run of some suites: bench/results/<suites>.json). Every row is measured in rounds interleaved
 * with its baseline in the same run and reports the median ratio and its
 * spread, so one disturbed round on a noisy machine moves neither.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import type { Row, SuiteContext } from './harness'

type Suite = { run(ctx: SuiteContext): Promise<Row[]> }

// Loaded on demand: a suite's imports (sharp, the built apps) cost only when it runs.
const SUITES: Record<string, () => Promise<Suite>> = {
  kv: () => import('./suites/kv.js'),
  mail: () => import('./suites/mail.js'),
  jobs: () => import('./suites/jobs.js'),
  register: () => import('./suites/register.js'),
  upload: () => import('./suites/upload.js'),
  events: () => import('./suites/events.js'),
  'events.overhead': () => import('./suites/events-overhead.js')
}

const RESULTS = join(__dirname, '..', 'results')

function cell(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? '-' : String(n)
}

export function table(rows: readonly Row[]): string {
  const lines = [
    '| benchmark | value (median) | baseline | baseline value | ratio median | spread (min–max) | CPU µs/op (subject vs baseline) | goal | met? | notes |',
    '|---|---:|---|---:|---:|---:|---:|---|---|---|'
  ]
  for (const r of rows) {
    const extra = r.extra ? Object.entries(r.extra).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`).join(', ') : ''
    const notes = [`${r.rounds} round${r.rounds === 1 ? '' : 's'}`, r.notes, extra].filter(Boolean).join('; ')
    const cpu = r.cpuUsPerOp === undefined && r.baselineCpuUsPerOp === undefined
      ? '-'
      : `${cell(r.cpuUsPerOp)} vs ${cell(r.baselineCpuUsPerOp)}${r.cpuRatio === undefined ? '' : ` (${r.cpuRatio}x)`}`
    const met = r.met === undefined ? '-' : r.met ? 'yes' : '**no**'
    lines.push(`| ${r.name} | ${r.value} ${r.unit} | ${r.baseline} | ${r.baselineValue} | ${cell(r.ratioMedian)} | ${cell(r.ratioMin)}–${cell(r.ratioMax)} | ${cpu} | ${r.goal ?? ''} | ${met} | ${notes} |`)
  }
  return lines.join('\n')
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'))
  const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1'
  const rows: Row[] = []
  const failures: string[] = []
  for (const name of wanted.length ? wanted : Object.keys(SUITES)) {
    const load = SUITES[name]
    if (!load) { failures.push(`${name}: no such suite (known: ${Object.keys(SUITES).join(', ')})`); continue }
    const started = Date.now()
    try {
      const got = await (await load()).run({ quick, log: (m) => console.error(`[bench] ${m}`) })
      rows.push(...got)
      console.error(`[bench] ${name}: ${got.length} rows in ${Math.round((Date.now() - started) / 1000)} s`)
    } catch (err) {
      const text = err instanceof Error ? err.stack ?? err.message : String(err)
      failures.push(`${name}: ${text}`)
      console.error(`[bench] ${name} failed: ${text}`)
    }
  }
  const cpus = os.cpus()
  const machine = { cpus: cpus.length, cpuModel: cpus[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` }
  const result = { rows, machine, quick, at: new Date().toISOString() }
  mkdirSync(RESULTS, { recursive: true })
  // A run of some suites (`npm run bench -- mail`) keeps its own file: latest.json stays the last full run.
  const file = wanted.length ? `${[...wanted].sort().join('-')}.json` : 'latest.json'
  writeFileSync(join(RESULTS, file), JSON.stringify(result, null, 2) + '\n')
  console.log(table(rows))
  console.log(`\n${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGb} GB, Node ${machine.node}${quick ? ', --quick' : ''}; written to bench/results/${file}`)
  const missed = rows.filter((r) => r.met === false).map((r) => r.name)
  if (missed.length) console.log(`goals missed (median over the rounds): ${missed.join(', ')}`)
  if (failures.length) {
    console.error(`\n${failures.length} suite(s) failed:\n${failures.join('\n')}`)
    process.exitCode = 1
  }
}

if (require.main === module) void main()
