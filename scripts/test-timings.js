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
 *   node scripts/test-timings.js --compare idle=idle.json loaded=loaded.json   one table of several runs
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
function workspaces() {
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

/**
 * Busy loops on every core asked for; killed when the run ends.
 * @param {number} count
 */
function startLoad(count) {
  /** @type {import('node:child_process').ChildProcess[]} */
  const loops = []
  for (let i = 0; i < count; i++) {
    loops.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }))
  }
  return () => { for (const loop of loops) loop.kill('SIGKILL') }
}

/**
 * @typedef {{ seconds: number, slowestTest: number }} FileTime
 * @param {string} location workspace folder
 * @param {string} dir where jest writes its report
 * @returns {Record<string, FileTime>} per test file, keyed by path from the repository root
 */
function timeWorkspace(location, dir) {
  const out = join(dir, location.replaceAll('/', '_') + '.json')
  const started = Date.now()
  const run = spawnSync('npx', ['jest', '--json', `--outputFile=${out}`], { cwd: join(ROOT, location), stdio: ['ignore', 'ignore', 'inherit'] })
  process.stderr.write(`[timings] ${location}: ${((Date.now() - started) / 1000).toFixed(1)} s, exit ${run.status}\n`)
  if (!existsSync(out)) return {}
  /** @type {{testResults: {name: string, status: string, startTime: number, endTime: number, assertionResults: {duration?: number}[]}[]}} */
  const report = JSON.parse(readFileSync(out, 'utf8'))
  /** @type {Record<string, FileTime>} */
  const times = {}
  for (const file of report.testResults) {
    const key = file.name.slice(ROOT.length + 1) + (file.status === 'passed' ? '' : ` (${file.status})`)
    const slowest = Math.max(0, ...file.assertionResults.map((a) => a.duration ?? 0))
    times[key] = { seconds: (file.endTime - file.startTime) / 1000, slowestTest: slowest / 1000 }
  }
  return times
}

/** @param {Record<string, Record<string, FileTime>>} columns */
function table(columns) {
  const names = Object.keys(columns)
  /** @param {string} name */
  const column = (name) => columns[name] ?? {}
  const files = [...new Set(names.flatMap(n => Object.keys(column(n))))]
  const last = column(names[names.length - 1] ?? '')
  files.sort((a, b) => (last[b]?.seconds ?? 0) - (last[a]?.seconds ?? 0))
  const lines = [
    `| test file | ${names.map(n => `${n}: file (s) | slowest test (s)`).join(' | ')} |`,
    `|---|${names.map(() => '---:|---:').join('|')}|`
  ]
  const cell = (/** @type {FileTime | undefined} */ t) => t === undefined ? ' | ' : `${t.seconds.toFixed(1)} | ${t.slowestTest.toFixed(1)}`
  for (const file of files) lines.push(`| ${file} | ${names.map(n => cell(column(n)[file])).join(' | ')} |`)
  const totals = names.map(n => `${Object.values(column(n)).reduce((sum, t) => sum + t.seconds, 0).toFixed(0)} | `)
  lines.push(`| **all ${files.length} files** | ${totals.join(' | ')} |`)
  lines.push('', `Jest's timeout is per test (${TIMEOUT_S} s unless a test sets its own), so the slowest test is what stands nearest to it.`)
  return lines.join('\n')
}

if (values.compare) {
  // Each argument is label=file.json, e.g. idle=idle.json loaded=loaded.json.
  const columns = Object.fromEntries(process.argv.slice(2).filter(a => !a.startsWith('--')).map((arg) => {
    const [label = arg, file = arg] = arg.split('=')
    return [label, JSON.parse(readFileSync(file, 'utf8'))]
  }))
  console.log(table(columns))
} else {
  const load = Number(values.load)
  const stopLoad = startLoad(load)
  const dir = mkdtempSync(join(tmpdir(), 'test-timings-'))
  /** @type {Record<string, FileTime>} */
  let times = {}
  try {
    for (const location of workspaces()) times = { ...times, ...timeWorkspace(location, dir) }
  } finally {
    stopLoad()
  }
  if (values.out) writeFileSync(values.out, JSON.stringify(times, null, 2))
  console.log(table({ [load ? `loaded (${load} busy loops)` : 'idle']: times }))
}
