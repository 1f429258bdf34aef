// @ts-check
'use strict'
/**
 * Times every test file of every workspace, idle or with the machine
 * deliberately loaded, and prints a markdown table (slowest first) so a test
 * drifting toward its timeout shows up before it fails CI.
 *
 *   node scripts/test-timings.js                 idle
 *   node scripts/test-timings.js --load 2        beside two busy-loop processes
 *   node scripts/test-timings.js --out f.json    also keep the raw times
 *   node scripts/test-timings.js --compare idle.json loaded.json   one table of both
 *
 * Run `npm run build` first (the suites test the built packages they import).
 */
const { spawn, spawnSync } = require('node:child_process')
const { mkdtempSync, readFileSync, writeFileSync, existsSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { join, resolve } = require('node:path')
const { parseArgs } = require('node:util')

const ROOT = resolve(__dirname, '..')
const TIMEOUT_S = 60

const { values } = parseArgs({
  options: {
    load: { type: 'string', default: '0' },
    out: { type: 'string' },
    compare: { type: 'boolean', default: false },
    filter: { type: 'string' }
  },
  allowPositionals: true
})

/** @returns {string[]} workspace folders that have a test script */
function workspaces () {
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  const listed = spawnSync('npm', ['query', '.workspace'], { cwd: ROOT, encoding: 'utf8' })
  /** @type {{location: string, scripts?: Record<string, string>}[]} */
  const found = JSON.parse(listed.stdout)
  return found
    .filter(w => w.scripts?.test)
    .map(w => w.location)
    .filter(location => !values.filter || location.includes(values.filter))
    .sort((a, b) => root.workspaces.findIndex((/** @type {string} */ g) => a.startsWith(g.replace('/*', ''))) -
      root.workspaces.findIndex((/** @type {string} */ g) => b.startsWith(g.replace('/*', ''))) || a.localeCompare(b))
}

/** Busy loops on every core asked for; killed when the run ends. */
function startLoad (count) {
  const loops = []
  for (let i = 0; i < count; i++) {
    loops.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }))
  }
  return () => { for (const loop of loops) loop.kill('SIGKILL') }
}

/** @returns {Record<string, number>} seconds per test file, keyed by path from the repository root */
function timeWorkspace (location, dir) {
  const out = join(dir, location.replaceAll('/', '_') + '.json')
  const started = Date.now()
  const run = spawnSync('npx', ['jest', '--json', `--outputFile=${out}`], { cwd: join(ROOT, location), stdio: ['ignore', 'ignore', 'inherit'] })
  process.stderr.write(`[timings] ${location}: ${((Date.now() - started) / 1000).toFixed(1)} s, exit ${run.status}\n`)
  if (!existsSync(out)) return {}
  /** @type {{testResults: {name: string, status: string, startTime: number, endTime: number}[]}} */
  const report = JSON.parse(readFileSync(out, 'utf8'))
  /** @type {Record<string, number>} */
  const times = {}
  for (const file of report.testResults) {
    const key = file.name.slice(ROOT.length + 1) + (file.status === 'passed' ? '' : ` (${file.status})`)
    times[key] = (file.endTime - file.startTime) / 1000
  }
  return times
}

function table (columns) {
  const names = Object.keys(columns)
  const files = [...new Set(names.flatMap(n => Object.keys(columns[n])))]
  const first = columns[names[names.length - 1]]
  files.sort((a, b) => (first[b] ?? 0) - (first[a] ?? 0))
  const lines = [
    `| test file | ${names.map(n => `${n} (s)`).join(' | ')} | share of the ${TIMEOUT_S} s timeout |`,
    `|---|${names.map(() => '---:').join('|')}|---:|`
  ]
  for (const file of files) {
    const cells = names.map(n => columns[n][file] === undefined ? '' : columns[n][file].toFixed(1))
    const worst = Math.max(...names.map(n => columns[n][file] ?? 0))
    lines.push(`| ${file} | ${cells.join(' | ')} | ${Math.round(100 * worst / TIMEOUT_S)} % |`)
  }
  const totals = names.map(n => Object.values(columns[n]).reduce((sum, s) => sum + s, 0).toFixed(0))
  lines.push(`| **all ${files.length} files** | ${totals.join(' | ')} | |`)
  return lines.join('\n')
}

if (values.compare) {
  const [idle, loaded] = process.argv.slice(2).filter(a => !a.startsWith('--'))
  console.log(table({ idle: JSON.parse(readFileSync(idle, 'utf8')), loaded: JSON.parse(readFileSync(loaded, 'utf8')) }))
} else {
  const load = Number(values.load)
  const stopLoad = startLoad(load)
  const dir = mkdtempSync(join(tmpdir(), 'test-timings-'))
  /** @type {Record<string, number>} */
  let times = {}
  try {
    for (const location of workspaces()) times = { ...times, ...timeWorkspace(location, dir) }
  } finally {
    stopLoad()
  }
  if (values.out) writeFileSync(values.out, JSON.stringify(times, null, 2))
  console.log(table({ [load ? `loaded (${load} busy loops)` : 'idle']: times }))
}
