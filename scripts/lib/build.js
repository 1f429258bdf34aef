// @ts-check
'use strict'
const { execFileSync } = require('node:child_process')
const { join, resolve } = require('node:path')

const ROOT = resolve(__dirname, '..', '..')

/** The services `npm start` and `npm run stack` run; the console is built with them because the api serves it. */
const APPS = /** @type {const} */ (['api', 'mailer', 'worker'])

/**
 * Builds what running needs: the apps, the console the api serves, and the packages they use
 * (not the benchmarks or the test helpers). Turbo prints a task's output only when it fails and
 * replays nothing from its cache, so a start with nothing to rebuild is a few lines.
 */
function buildForRunning() {
  try {
    execFileSync(process.execPath, [
      join(ROOT, 'node_modules/turbo/bin/turbo'), 'run', 'build',
      ...[...APPS, 'console'].map((app) => `--filter=@socialnet/${app}`),
      '--output-logs=errors-only'
    ], { cwd: ROOT, stdio: 'inherit' })
  } catch {
    throw new Error('the build failed (its errors are above); nothing was started')
  }
}

module.exports = { APPS, buildForRunning }

// `npm run stack` builds with it before scripts/stack.js (which tests also start on a build already made).
if (require.main === module) {
  try {
    buildForRunning()
  } catch (err) {
    process.stderr.write(`${/** @type {Error} */ (err).message}\n`)
    process.exitCode = 1
  }
}
