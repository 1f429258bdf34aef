// @ts-check
'use strict'
const { existsSync } = require('node:fs')
const { execFileSync } = require('node:child_process')
const { join, resolve } = require('node:path')

const ROOT = resolve(__dirname, '../..')

/**
 * Runs one of the api's command-line tools from its build output (the same
 * file the Docker image runs), building the api first if that output is
 * missing. Build output goes to stderr: stdout carries only what the command
 * prints (a new key, a listing, --json), so scripts can read it.
 * @param {string} file path under apps/api/dist, e.g. `admin/cli.js`
 */
function runApiCli(file) {
  const cli = join(ROOT, 'apps/api/dist', file)
  if (!existsSync(cli)) {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/turbo/bin/turbo'), 'run', 'build', '--filter=@socialnet/api...'], { cwd: ROOT, stdio: ['ignore', 2, 2] })
  }
  require(cli)
}

module.exports = { runApiCli }
