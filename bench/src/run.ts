'use strict'
/**
 * `npm run bench`: runs each suite (all, or those named on the command line:
 * `npm run bench -- kv jobs`), prints one markdown table and writes
 * bench/results/latest.json. Every row is measured next to its baseline in
 * the same run, so the ratio means something on a noisy machine.
 */
const { writeFileSync, mkdirSync, existsSync } = require('node:fs')
const { join } = require('node:path')
const os = require('node:os')

const SUITES = ['kv', 'mail', 'jobs', 'register', 'upload', 'events']

function table(rows) {
  const lines = [
    '| benchmark | value | baseline | baseline value | ratio | goal | notes |',
    '|---|---:|---|---:|---:|---|---|'
  ]
  for (const r of rows) {
    const notes = r.extra ? Object.entries(r.extra).map(([k, v]) => `${k}=${v}`).join(', ') : ''
    lines.push(`| ${r.name} | ${r.value} ${r.unit} | ${r.baseline} | ${r.baselineValue} | ${r.ratio} | ${r.goal ?? ''} | ${notes} |`)
  }
  return lines.join('\n')
}

async function main() {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'))
  const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1'
  const rows = []
  const failures = []
  for (const name of wanted.length ? wanted : SUITES) {
    const file = join(__dirname, 'suites', `${name}.js`)
    if (!existsSync(file)) { failures.push(`${name}: no such suite`); continue }
    const started = Date.now()
    try {
      const got = await require(file).run({ quick, log: (m) => console.error(`[bench] ${m}`) })
      rows.push(...got)
      console.error(`[bench] ${name}: ${got.length} rows in ${Math.round((Date.now() - started) / 1000)} s`)
    } catch (err) {
      failures.push(`${name}: ${err.stack || err}`)
      console.error(`[bench] ${name} failed: ${err.stack || err}`)
    }
  }
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` }
  const result = { rows, machine, at: new Date().toISOString() }
  mkdirSync(join(__dirname, 'results'), { recursive: true })
  writeFileSync(join(__dirname, 'results', 'latest.json'), JSON.stringify(result, null, 2) + '\n')
  console.log(table(rows))
  console.log(`\n${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGb} GB, Node ${machine.node}; written to bench/results/latest.json`)
  if (failures.length) {
    console.error(`\n${failures.length} suite(s) failed:\n${failures.join('\n')}`)
    process.exitCode = 1
  }
}

main()
