'use strict'
/**
 * The two things a compose build needs on a machine with no image registry and no Docker
 * engine running: the engine itself (Debian's docker.io, started in the background), and a
 * caching npm registry that containers can reach (Verdaccio on the docker0 gateway; npm in
 * a container here cannot verify the public registry's TLS chain while the host's can).
 * Both are left running for the next build; their files live in CACHE_DIR, outside the
 * repository.
 */
const { execFileSync, spawn, spawnSync } = require('node:child_process')
const { copyFileSync, existsSync, mkdirSync, openSync, readFileSync } = require('node:fs')
const { join } = require('node:path')

const CACHE_DIR = process.env.SOCIALNET_IMAGE_CACHE || '/var/cache/socialnet-images'
const REGISTRY_PORT = Number(process.env.SOCIALNET_REGISTRY_PORT || 4873)
const REGISTRY_SOURCE = join(__dirname, 'registry-cache')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs a command, returning its trimmed stdout, or undefined when it fails. */
function tryRun(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  return result.status === 0 ? result.stdout.trim() : undefined
}

function aptInstall(packages, log) {
  // eslint-disable-next-line no-template-curly-in-string -- dpkg-query's own format syntax
  const missing = packages.filter((p) => tryRun('dpkg-query', ['-W', '-f=${Status}', p]) !== 'install ok installed')
  if (!missing.length) return
  log(`installing ${missing.join(' ')} (apt-get)`)
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' })
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  })
}

/** Starts a daemon in its own session with its output in a log file, so it outlives us. */
function daemon(command, args, logFile, options = {}) {
  mkdirSync(CACHE_DIR, { recursive: true })
  const out = openSync(logFile, 'a')
  spawn(command, args, { detached: true, stdio: ['ignore', out, out], ...options }).unref()
}

/** Waits until `check()` is truthy, polling every 500 ms, or throws `message` after `ms`. */
async function waitUntil(check, ms, message) {
  const deadline = Date.now() + ms
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(message)
    await sleep(500)
  }
}

/** Makes `docker info` work: installs Debian's engine and compose if needed, starts dockerd. */
async function ensureDockerEngine(log) {
  if (tryRun('docker', ['info', '--format', '{{.ServerVersion}}'])) return
  aptInstall(['docker.io', 'docker-compose', 'iptables'], log)
  log('starting the Docker engine (dockerd)')
  daemon('dockerd', [], join(CACHE_DIR, 'dockerd.log'))
  await waitUntil(() => tryRun('docker', ['info', '--format', '{{.ServerVersion}}']), 60_000,
    `dockerd did not start within 60 s; see ${join(CACHE_DIR, 'dockerd.log')}`)
}

/** The host's address on Docker's default bridge: what a build container reaches the host at. */
function bridgeGateway() {
  return tryRun('docker', ['network', 'inspect', 'bridge', '--format', '{{(index .IPAM.Config 0).Gateway}}']) || '172.17.0.1'
}

async function answers(url) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) })
    return response.ok
  } catch {
    return false
  }
}

/**
 * The npm registry that image builds use: NPM_CONFIG_REGISTRY when the caller set one,
 * otherwise the Verdaccio cache on the bridge gateway, installed from the lockfile in
 * registry-cache/ and started on first use.
 */
async function ensureRegistry(log) {
  if (process.env.NPM_CONFIG_REGISTRY) return process.env.NPM_CONFIG_REGISTRY
  const host = bridgeGateway()
  const url = `http://${host}:${REGISTRY_PORT}/`
  if (await answers(`${url}-/ping`)) return url
  const dir = join(CACHE_DIR, 'registry-cache')
  mkdirSync(dir, { recursive: true })
  const lock = readFileSync(join(REGISTRY_SOURCE, 'package-lock.json'), 'utf8')
  const installed = existsSync(join(dir, 'package-lock.json')) && readFileSync(join(dir, 'package-lock.json'), 'utf8') === lock
  for (const file of ['package.json', 'package-lock.json', 'config.yaml']) copyFileSync(join(REGISTRY_SOURCE, file), join(dir, file))
  if (!installed || !existsSync(join(dir, 'node_modules', 'verdaccio'))) {
    log(`installing the registry cache (verdaccio) in ${dir}`)
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: 'inherit' })
  }
  log(`starting the registry cache on ${url}`)
  daemon(process.execPath, [join(dir, 'node_modules', 'verdaccio', 'bin', 'verdaccio'), '--config', join(dir, 'config.yaml'), '--listen', `${host}:${REGISTRY_PORT}`],
    join(CACHE_DIR, 'registry-cache.log'), { cwd: dir })
  await waitUntil(() => answers(`${url}-/ping`), 60_000, `the registry cache did not answer on ${url} within 60 s; see ${join(CACHE_DIR, 'registry-cache.log')}`)
  return url
}

module.exports = { CACHE_DIR, aptInstall, ensureDockerEngine, ensureRegistry, tryRun }
