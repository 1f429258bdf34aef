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
let signals = 0
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, () => {
    if (++signals > 1) {
      process.stderr.write('stack: second signal, killing everything\n')
      for (const p of stack.group.processes) p.child.kill('SIGKILL')
      process.exit(1)
    }
    void stack.stop()
  })
}

stack.start().catch(async (err) => {
  process.stderr.write(`stack: failed to start: ${err.message}\n`)
  await stack.stop(1)
})
