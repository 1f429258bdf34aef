#!/usr/bin/env node
// @ts-check
'use strict'
// `npm start`: api + mailer + worker + a dev SMTP inbox (maildev) in the foreground,
// output prefixed per process. Ctrl-C stops everything gracefully; a second Ctrl-C at once.
// The env of DESIGN.md applies (PORT, DATABASE_URL, ...); SMTP_URL defaults to this maildev.
const { existsSync } = require('node:fs')
const { execFileSync } = require('node:child_process')
const { join, resolve } = require('node:path')
const { ProcessGroup } = require('./lib/process-group')
const { waitForHttp200 } = require('./lib/readiness')

const ROOT = resolve(__dirname, '..')
const APPS = /** @type {const} */ (['api', 'mailer', 'worker'])
const SMTP_PORT = 1025
const INBOX_PORT = 1080
const apiPort = process.env.PORT ?? '3000'

// `npm start` builds first; running this file directly builds only when output is missing.
if (APPS.some((app) => !existsSync(join(ROOT, `apps/${app}/dist/server.js`)))) {
  execFileSync(process.execPath, [join(ROOT, 'node_modules/turbo/bin/turbo'), 'run', 'build'], { cwd: ROOT, stdio: 'inherit' })
}

const group = new ProcessGroup()
const grace = Number(process.env.SHUTDOWN_GRACE_MS ?? 10000) + 5000
const inbox = group.start({
  name: 'maildev',
  command: join(ROOT, 'node_modules/.bin/maildev'),
  args: ['--ip', '127.0.0.1', '--smtp', String(SMTP_PORT), '--web', String(INBOX_PORT)],
  cwd: ROOT
})
const env = { ...process.env, SMTP_URL: process.env.SMTP_URL ?? `smtp://127.0.0.1:${SMTP_PORT}` }
const apps = APPS.map((app) => group.start({
  name: app,
  command: process.execPath,
  args: [join(ROOT, `apps/${app}/dist/server.js`)],
  cwd: ROOT,
  env,
  stopTimeoutMs: grace
}))

group.stopOnSignals(async () => {
  process.stdout.write('stopping...\n')
  // The inbox goes last so mail still being sent at shutdown is caught.
  await group.stop(apps)
  await group.stop([inbox])
})

waitForHttp200(`http://127.0.0.1:${apiPort}/health`, { gaveUp: () => (apps[0]?.running ? undefined : 'the api exited') }).then(() => {
  // Secure by default like every deployment (KV_AUTH=token); say how to get in rather than open the store.
  const kvHint = process.env.KV_AUTH === 'open' ? '' : '\nkey-value store: mint an API key with `npm run admin -- api-key create --scope kv:write`'
  process.stdout.write(`\nready: api http://localhost:${apiPort} (docs /docs), mail inbox http://localhost:${INBOX_PORT}; Ctrl-C stops${kvHint}\n\n`)
}, (err) => process.stderr.write(`${err.message}\n`))
