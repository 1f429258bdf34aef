#!/usr/bin/env node
// @ts-check
'use strict'
// `npm run stack:restart`: rolling restart of the api replicas of a running `npm run stack`.
// Waits for the outcome; exits non-zero when no stack runs or the restart failed.
const { join, resolve } = require('node:path')
const { callControl } = require('./lib/stack-control')

const dir = resolve(__dirname, '..', process.env.STACK_DIR ?? 'data/stack')

callControl(join(dir, 'control.sock'), 'POST', '/restart').then(({ status, body }) => {
  process.stdout.write(`${body.message}\n`)
  process.exitCode = status === 200 ? 0 : 1
}, (err) => {
  process.stderr.write(`stack:restart: no running stack at ${dir} (${err.code ?? err.message}); start one with npm run stack\n`)
  process.exitCode = 1
})
