#!/usr/bin/env node
'use strict'
/**
 * `npm run test:compose`: the README's first line, run as a user would. Starts the Docker
 * engine if needed, builds the images the compose file pulls where a tag is missing
 * (`npm run images:local`), then `up --build` of the unmodified docker-compose.yml with
 * .env.example as its env file, under a project name of its own, and checks the system
 * through nginx on 127.0.0.1 (and `docker exec`). Prints a table (check | result | seconds)
 * and `N passed, N failed` last; exit code 1 when a check failed. The project is removed
 * with `down -v` whatever happens, and the last check proves nothing of it is left.
 *
 *   COMPOSE_TEST_KEEP=1 npm run test:compose    leaves the stack up for a look afterwards
 */
const { readFileSync } = require('node:fs')
const { join, resolve } = require('node:path')
const { connect, createServer } = require('node:net')
const { ensureDockerEngine, ensureRegistry } = require('../local-images/engine')
const { buildMissingImages } = require('../local-images/build')
const { ComposeProject } = require('./compose')
const { scenario } = require('./scenario')

const ROOT = resolve(__dirname, '../..')
const PROJECT = process.env.COMPOSE_TEST_PROJECT || 'socialnet-compose-test'
/**
 * The scenario registers hundreds of users from one client address at one domain (example.com)
 * and expects each welcome mail: the registration limits, which .env.example keeps on as a
 * deployment should, are turned off for this run (compose takes the shell's variables over the
 * env file's).
 */
const SCENARIO_LOAD_ENV = {
  REGISTER_RATE_PER_IP: '0',
  WELCOME_MAILS_PER_MAILBOX_PER_DAY: '0',
  WELCOME_MAILS_PER_DOMAIN_PER_MINUTE: '0',
  WELCOME_MAILS_PER_MINUTE: '0'
}
const log = (message) => console.error(`[test:compose] ${message}`)

function readEnvFile(file) {
  const env = {}
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim())
    if (match) env[match[1]] = match[2]
  }
  return env
}

/** True when something on this host already listens on 127.0.0.1:`port`. */
function portTaken(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

/** A port nothing listens on now (the kernel's choice). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

function printTable(results) {
  const lines = ['| check | result | seconds |', '|---|---|---:|']
  for (const r of results) lines.push(`| ${r.name} | ${r.ok ? 'pass' : 'FAIL'}: ${r.detail.replace(/\|/g, '/').replace(/\n/g, ' ')} | ${r.seconds.toFixed(1)} |`)
  console.log(lines.join('\n'))
  const passed = results.filter((r) => r.ok).length
  console.log(`\n${passed} passed, ${results.length - passed} failed`)
}

async function main() {
  const results = []
  /** Runs one check, recording pass/fail, its detail line and how long it took. */
  const check = async (name, fn) => {
    const started = performance.now()
    log(`${name} ...`)
    try {
      const detail = (await fn()) ?? ''
      results.push({ name, ok: true, detail, seconds: (performance.now() - started) / 1000 })
      log(`${name}: pass ${detail}`)
      return true
    } catch (err) {
      results.push({ name, ok: false, detail: String(err.message || err).split('\n')[0], seconds: (performance.now() - started) / 1000 })
      log(`${name}: FAIL ${err.stack || err}`)
      return false
    }
  }

  let project
  let rabbitUiPort = '15672'
  let bounceSmtpPort = '2525'
  let interrupted = false
  const onSignal = (signal) => {
    if (interrupted) process.exit(130)
    interrupted = true
    log(`${signal}: stopping after the current step and removing the project (again to exit now)`)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  try {
    await check('docker engine, registry cache and local base images', async () => {
      await ensureDockerEngine(log)
      const registry = await ensureRegistry(log)
      const built = await buildMissingImages(log)
      // A RabbitMQ on this host (the tests' own) may hold the management port: publish elsewhere.
      rabbitUiPort = (await portTaken(15672)) ? String(await freePort()) : '15672'
      // Likewise the bounce receiver's SMTP port (a local receiver or test SMTP server may hold 2525).
      bounceSmtpPort = (await portTaken(2525)) ? String(await freePort()) : '2525'
      project = new ComposeProject({
        root: ROOT,
        project: PROJECT,
        envFile: join(ROOT, '.env.example'),
        buildEnv: { NPM_CONFIG_REGISTRY: registry, DOCKER_BUILDKIT: '0', COMPOSE_DOCKER_CLI_BUILD: '0', RABBITMQ_UI_PORT: rabbitUiPort, BOUNCE_SMTP_PUBLISH: bounceSmtpPort, ...SCENARIO_LOAD_ENV }
      })
      // A run that was killed may have left its project behind.
      await project.down()
      return `${project.command === 'docker' ? 'docker compose' : 'docker-compose'}; npm registry ${registry}; images ${built.length ? `built: ${built.join(', ')}` : 'all present'}`
    })
    if (project && !interrupted) {
      const env = { ...readEnvFile(join(ROOT, '.env.example')), RABBITMQ_UI_PORT: rabbitUiPort, BOUNCE_SMTP_PUBLISH: bounceSmtpPort }
      await scenario({ project, env, check, log, interrupted: () => interrupted })
    }
  } finally {
    if (project && process.env.COMPOSE_TEST_KEEP !== '1') {
      await check('docker compose down -v leaves no container, network or volume', async () => {
        await project.down()
        const left = await project.leftovers()
        const count = left.containers.length + left.networks.length + left.volumes.length
        if (count) throw new Error(`left behind: ${JSON.stringify(left)}`)
        return 'none left'
      })
    }
    printTable(results)
  }
  process.exitCode = results.every((r) => r.ok) ? 0 : 1
}

main().catch((err) => {
  log(err.stack || err)
  process.exit(1)
})
