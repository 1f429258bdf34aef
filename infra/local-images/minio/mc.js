#!/usr/bin/env node
'use strict'
/**
 * `mc` of the MinIO stand-in: the commands infra/minio/create-bucket.sh and the
 * compose healthcheck use, against server.js. Aliases live in ~/.mc/config.json as with
 * the real mc; `local` means http://127.0.0.1:9000 with MINIO_ROOT_USER/PASSWORD.
 *   mc alias set ALIAS URL ACCESS_KEY SECRET_KEY
 *   mc ready ALIAS
 *   mc mb [--ignore-existing|-p] ALIAS/BUCKET
 *   mc admin policy create ALIAS NAME FILE
 *   mc admin user add ALIAS ACCESS_KEY SECRET_KEY
 *   mc admin policy attach ALIAS NAME --user ACCESS_KEY
 */
const { mkdirSync, readFileSync, writeFileSync, existsSync } = require('node:fs')
const { homedir } = require('node:os')
const { join } = require('node:path')
const aws4 = require('aws4')

const CONFIG = join(process.env.MC_CONFIG_DIR || join(homedir(), '.mc'), 'config.json')

function fail(message, code = 1) {
  console.error(`mc: ${message}`)
  process.exit(code)
}

function aliases() {
  const saved = existsSync(CONFIG) ? JSON.parse(readFileSync(CONFIG, 'utf8')).aliases : {}
  return {
    local: { url: 'http://127.0.0.1:9000', accessKey: process.env.MINIO_ROOT_USER || 'minioadmin', secretKey: process.env.MINIO_ROOT_PASSWORD || 'minioadmin' },
    ...saved
  }
}

function alias(name) {
  const found = aliases()[name]
  if (!found) fail(`no alias '${name}' (mc alias set ${name} URL ACCESS_KEY SECRET_KEY)`)
  return found
}

async function request(target, { method, path, body, signed }) {
  const url = new URL(path, target.url)
  const options = { method, host: url.host, path: url.pathname + url.search, headers: {}, body, service: 's3', region: 'us-east-1' }
  if (signed) aws4.sign(options, { accessKeyId: target.accessKey, secretAccessKey: target.secretKey })
  else options.headers.authorization = `Basic ${Buffer.from(`${target.accessKey}:${target.secretKey}`).toString('base64')}`
  const response = await fetch(url, { method, headers: options.headers, body, signal: AbortSignal.timeout(10_000) })
  return { status: response.status, text: await response.text() }
}

async function admin(target, path, body) {
  const { status, text } = await request(target, { method: 'PUT', path, body: JSON.stringify(body) })
  if (status !== 200) fail(`${path}: ${status} ${text}`)
}

async function main(args) {
  const [command, ...rest] = args
  if (command === 'alias' && rest[0] === 'set') {
    const [, name, url, accessKey, secretKey] = rest
    if (!secretKey) fail('usage: mc alias set ALIAS URL ACCESS_KEY SECRET_KEY', 2)
    const saved = existsSync(CONFIG) ? JSON.parse(readFileSync(CONFIG, 'utf8')) : { aliases: {} }
    saved.aliases[name] = { url, accessKey, secretKey }
    mkdirSync(join(CONFIG, '..'), { recursive: true })
    writeFileSync(CONFIG, JSON.stringify(saved, null, 2), { mode: 0o600 })
    console.log(`Added \`${name}\` successfully.`)
  } else if (command === 'ready') {
    const target = alias(rest[0] ?? 'local')
    const { status } = await request(target, { method: 'GET', path: '/minio/health/ready' }).catch(() => ({ status: 0 }))
    if (status !== 200) fail(`'${rest[0] ?? 'local'}' is not ready`)
    console.log(`The cluster '${rest[0] ?? 'local'}' is ready`)
  } else if (command === 'mb') {
    const ignoreExisting = rest.some((a) => a === '--ignore-existing' || a === '-p')
    const [name, bucket] = (rest.find((a) => !a.startsWith('-')) ?? '').split('/')
    if (!bucket) fail('usage: mc mb [--ignore-existing] ALIAS/BUCKET', 2)
    const { status, text } = await request(alias(name), { method: 'PUT', path: `/${bucket}`, signed: true })
    if (status === 409 && ignoreExisting) console.log(`Bucket \`${name}/${bucket}\` already exists.`)
    else if (status === 200) console.log(`Bucket created successfully \`${name}/${bucket}\`.`)
    else fail(`cannot create ${name}/${bucket}: ${status} ${text}`)
  } else if (command === 'admin' && rest[0] === 'policy' && rest[1] === 'create') {
    const [, , name, policy, file] = rest
    if (!file) fail('usage: mc admin policy create ALIAS NAME FILE', 2)
    await admin(alias(name), `/minio/admin/v3/add-canned-policy?name=${encodeURIComponent(policy)}`, JSON.parse(readFileSync(file, 'utf8')))
    console.log(`Created policy \`${policy}\` successfully.`)
  } else if (command === 'admin' && rest[0] === 'user' && rest[1] === 'add') {
    const [, , name, accessKey, secretKey] = rest
    if (!secretKey) fail('usage: mc admin user add ALIAS ACCESS_KEY SECRET_KEY', 2)
    await admin(alias(name), `/minio/admin/v3/add-user?accessKey=${encodeURIComponent(accessKey)}`, { secretKey })
    console.log(`Added user \`${accessKey}\` successfully.`)
  } else if (command === 'admin' && rest[0] === 'policy' && rest[1] === 'attach') {
    const [, , name, policy, flag, accessKey] = rest
    if (flag !== '--user' || !accessKey) fail('usage: mc admin policy attach ALIAS NAME --user ACCESS_KEY', 2)
    await admin(alias(name), `/minio/admin/v3/attach-policy?policyName=${encodeURIComponent(policy)}&userOrGroup=${encodeURIComponent(accessKey)}`, {})
    console.log(`Attached Policies: [${policy}] To User: ${accessKey}`)
  } else {
    fail(`'${args.join(' ')}' is not supported by this stand-in (see the header of mc.js)`, 2)
  }
}

main(process.argv.slice(2)).catch((err) => fail(err.message))
