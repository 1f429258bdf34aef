#!/usr/bin/env node
// @ts-check
'use strict'
// `npm run dlq -- <command> <queue>`: dead-letter tooling (apps/api/src/admin/dlq-cli.ts). It runs from
// the api's build output, the same file the Docker image runs; that output is built first if missing.
const { existsSync } = require('node:fs')
const { execFileSync } = require('node:child_process')
const { join, resolve } = require('node:path')

const ROOT = resolve(__dirname, '..')
const CLI = join(ROOT, 'apps/api/dist/admin/dlq-cli.js')

if (!existsSync(CLI)) {
  // Build output goes to stderr: stdout carries only what the command prints (listings, --json).
  execFileSync(process.execPath, [join(ROOT, 'node_modules/turbo/bin/turbo'), 'run', 'build', '--filter=@socialnet/api...'], { cwd: ROOT, stdio: ['ignore', 2, 2] })
}
require(CLI)
