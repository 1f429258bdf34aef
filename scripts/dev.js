#!/usr/bin/env node
// @ts-check
'use strict'
// `npm start`: api + mailer + worker + a dev SMTP inbox (maildev) in the foreground,
// output prefixed per process. Ctrl-C stops everything gracefully; a second Ctrl-C at once.
// The environment of the README's Configuration table applies (PORT, DATABASE_URL, ...); SMTP_URL defaults to this maildev, whose
// ports are INBOX_SMTP_PORT (1025) and INBOX_WEB_PORT (1080). A port already taken (another copy
// running) stops it before anything starts; any child that exits stops the whole group.
const { mkdtempSync, rmSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { join, resolve } = require('node:path')
const { ProcessGroup } = require('./lib/process-group')
const { waitForHttp200 } = require('./lib/readiness')
const { takenPorts } = require('./lib/ports')
const { logLineFormat } = require('./lib/log-format')
const { APPS, buildForRunning } = require('./lib/build')

const ROOT = resolve(__dirname, '..')
const SMTP_PORT = Number(process.env.INBOX_SMTP_PORT ?? 1025)
const INBOX_PORT = Number(process.env.INBOX_WEB_PORT ?? 1080)
const apiPort = process.env.PORT ?? '3000'
const mailerMetricsPort = Number(process.env.MAILER_METRICS_PORT ?? 0)

main().catch((err) => {
  process.stderr.write(`npm start: ${err.message}\n`)
  process.exitCode = 1
})

async function main() {
  const ports = [
    { name: 'the api (PORT)', port: Number(apiPort), host: process.env.HOST },
    { name: 'the mail inbox SMTP (INBOX_SMTP_PORT)', port: SMTP_PORT, host: '127.0.0.1' },
    { name: 'the mail inbox web UI (INBOX_WEB_PORT)', port: INBOX_PORT, host: '127.0.0.1' },
    ...(mailerMetricsPort > 0 ? [{ name: 'the mailer metrics (MAILER_METRICS_PORT)', port: mailerMetricsPort }] : [])
  ]
  const taken = await takenPorts(ports)
  const t = taken[0]
  if (t) {
    throw new Error(`port ${t.port} for ${t.name} is already in use (${t.reason}); is another npm start running? Stop it or choose another port`)
  }
  buildForRunning()
  startAll()
}

function startAll() {
  let stopping = false
  const group = new ProcessGroup({
    formatLine: logLineFormat(),
    // One app that cannot start (or dies) leaves a half system that looks alive: stop it all.
    onUnexpectedExit: (p, code, signal) => {
      process.stderr.write(`${p.spec.name} exited (${signal ?? `code ${code}`}): stopping everything\n`)
      void stopAll(1)
    }
  })
  const grace = Number(process.env.SHUTDOWN_GRACE_MS ?? 10000) + 5000
  // maildev keeps each mail as a file, by default in /tmp/maildev-<its pid>, which it never removes:
  // give it a folder of ours and remove it when this process ends (the inbox is new at each start).
  const mailDir = mkdtempSync(join(tmpdir(), 'socialnet-inbox-'))
  process.once('exit', () => rmSync(mailDir, { recursive: true, force: true }))
  const inbox = group.start({
    name: 'maildev',
    command: join(ROOT, 'node_modules/.bin/maildev'),
    args: ['--ip', '127.0.0.1', '--smtp', String(SMTP_PORT), '--web', String(INBOX_PORT), '--mail-directory', mailDir],
    cwd: ROOT
  })
  const env = { ...process.env, SMTP_URL: process.env.SMTP_URL ?? `smtp://127.0.0.1:${SMTP_PORT}` }
  const apps = APPS.map((app) => group.start({
    name: app,
    command: process.execPath,
    args: [join(ROOT, `apps/${app}/dist/server.js`)],
    cwd: ROOT,
    // One process of each: its name is a better replica name in logs and events than the hostname.
    env: { REPLICA_ID: `${app}-1`, ...env },
    stopTimeoutMs: grace
  }))

  async function stopAll(exitCode = 0) {
    if (stopping) return
    stopping = true
    process.stdout.write('stopping...\n')
    // The inbox goes last so mail still being sent at shutdown is caught.
    await group.stop(apps)
    await group.stop([inbox])
    process.exitCode = exitCode
  }
  group.stopOnSignals(() => stopAll())

  waitForHttp200(`http://127.0.0.1:${apiPort}/health`, { gaveUp: () => (apps[0]?.running ? undefined : 'the api exited') }).then(() => {
    if (stopping) return
    // Secure by default like every deployment (KV_AUTH=token); say how to get in rather than open the store.
    const kvHint = process.env.KV_AUTH === 'open' ? '' : '\nkey-value store: mint an API key with `npm run admin -- api-key create --scope kv:write`'
    process.stdout.write(`\nready: console http://localhost:${apiPort}/ (in a browser), api http://localhost:${apiPort} (docs /docs), mail inbox http://localhost:${INBOX_PORT}; Ctrl-C stops${kvHint}\n\n`)
  }, (err) => {
    process.stderr.write(`${err.message}\n`)
    void stopAll(1)
  })
}
