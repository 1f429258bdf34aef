#!/usr/bin/env node
// @ts-check
'use strict'
// `npm run stack`: the docker compose topology as local processes (see docs/deployment.md).
// Ctrl-C (or SIGTERM) stops everything gracefully; a second one stops at once.
const { Stack, stackSettings } = require('./lib/stack')

let settings
try {
  settings = stackSettings(process.env)
} catch (err) {
  process.stderr.write(`stack: ${/** @type {Error} */ (err).message}\n`)
  process.exit(1)
}

const stack = new Stack(settings, process.env)
stack.group.stopOnSignals(() => stack.stop(), 'stack: second signal, killing everything')

stack.start().catch(async (err) => {
  process.stderr.write(`stack: failed to start: ${err.message}\n`)
  await stack.stop(1)
})
