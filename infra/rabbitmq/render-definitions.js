#!/usr/bin/env node
'use strict'
// Renders definitions.template.json into a RabbitMQ definitions file, reading each
// user's password from the environment (docker compose passes .env) and storing only
// its salted hash. No dependencies: runs in a plain node image.
//
//   node render-definitions.js <output.json> [vhost]
const { createHash, randomBytes } = require('node:crypto')
const { readFileSync, writeFileSync, renameSync } = require('node:fs')
const { join } = require('node:path')

/** RabbitMQ's rabbit_password_hashing_sha256: base64(salt ++ sha256(salt ++ utf8(password))). */
function passwordHash(password) {
  const salt = randomBytes(4)
  const digest = createHash('sha256').update(Buffer.concat([salt, Buffer.from(password, 'utf8')])).digest()
  return Buffer.concat([salt, digest]).toString('base64')
}

/**
 * @param {NodeJS.ProcessEnv} env
 * @param {{ vhost?: string, userPrefix?: string }} [options] vhost replaces the template's vhost;
 *   userPrefix goes before every user name (users are broker-wide: tests sharing a broker need their own)
 */
function renderDefinitions(env, options = {}) {
  const { vhost, userPrefix = '' } = options
  const template = JSON.parse(readFileSync(join(__dirname, 'definitions.template.json'), 'utf8'))
  const missing = template.users.filter((u) => !u.optional && !env[u.password_env]).map((u) => u.password_env)
  if (missing.length > 0) throw new Error(`set ${missing.join(', ')} (see .env.example)`)
  const weak = template.users.filter((u) => env[u.password_env] && env[u.password_env].length < 12).map((u) => u.password_env)
  if (weak.length > 0) throw new Error(`${weak.join(', ')}: use at least 12 characters`)
  const present = new Set(template.users.filter((u) => env[u.password_env]).map((u) => u.name))
  const name = vhost ?? template.vhosts[0].name
  return {
    vhosts: [{ name }],
    users: template.users.filter((u) => present.has(u.name)).map((u) => ({
      name: userPrefix + u.name,
      password_hash: passwordHash(env[u.password_env]),
      hashing_algorithm: 'rabbit_password_hashing_sha256',
      tags: u.tags
    })),
    permissions: template.permissions.filter((p) => present.has(p.user)).map((p) => ({
      user: userPrefix + p.user, vhost: name, configure: p.configure, write: p.write, read: p.read
    })),
    // Which routing keys a user may publish (write) or bind (read) on a topic exchange.
    topic_permissions: (template.topic_permissions ?? []).filter((p) => present.has(p.user)).map((p) => ({
      user: userPrefix + p.user, vhost: name, exchange: p.exchange, write: p.write, read: p.read
    })),
    // `_comment` is ours, not RabbitMQ's.
    policies: (template.policies ?? []).map(({ _comment, ...policy }) => ({ ...policy, vhost: name }))
  }
}

if (require.main === module) {
  const [out, vhost] = process.argv.slice(2)
  if (!out) {
    process.stderr.write('usage: render-definitions.js <output.json> [vhost]\n')
    process.exit(2)
  }
  try {
    const text = JSON.stringify(renderDefinitions(process.env, { vhost }), null, 2) + '\n'
    // Written whole or not at all: rabbitmq must never boot on half a file.
    writeFileSync(`${out}.tmp`, text, { mode: 0o644 })
    renameSync(`${out}.tmp`, out)
    process.stdout.write(`rabbitmq definitions written to ${out}\n`)
  } catch (err) {
    process.stderr.write(`render-definitions: ${err.message}\n`)
    process.exit(1)
  }
}

module.exports = { renderDefinitions, passwordHash }
