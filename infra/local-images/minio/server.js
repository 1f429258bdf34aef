#!/usr/bin/env node
'use strict'
/**
 * `minio server DIR [--address :9000] [--console-address :9001]` of the MinIO stand-in:
 * s3rver serves the S3 API from DIR with MINIO_ROOT_USER/MINIO_ROOT_PASSWORD as the root
 * credentials (s3rver checks every signature), plus what MinIO adds that our compose
 * file relies on: /minio/health/{live,ready}, users with bucket policies (enforced before
 * s3rver sees the request), and admin calls for them, which take the root credentials by
 * HTTP Basic auth (mc.js is their only client). There is no web console.
 */
const { timingSafeEqual } = require('node:crypto')
const S3rver = require('s3rver')
const AWSAccount = require('s3rver/lib/models/account')
const { Iam, s3Action } = require('./iam')

function usage(message) {
  console.error(`minio stand-in: ${message}\nusage: minio server DIR [--address :9000] [--console-address :9001]`)
  process.exit(2)
}

const args = process.argv.slice(2)
if (args[0] !== 'server') usage(`unsupported command '${args[0] ?? ''}'`)
let directory
let address = ':9000'
for (let i = 1; i < args.length; i++) {
  if (args[i] === '--address') address = args[++i]
  else if (args[i] === '--console-address') i++ // no console in the stand-in
  else if (!args[i].startsWith('-') && !directory) directory = args[i]
  else usage(`unsupported argument '${args[i]}'`)
}
if (!directory) usage('no data directory')
const port = Number(address.split(':').pop())
const rootUser = process.env.MINIO_ROOT_USER || 'minioadmin'
const rootPassword = process.env.MINIO_ROOT_PASSWORD || 'minioadmin'
if (rootPassword.length < 8) usage('MINIO_ROOT_PASSWORD must be at least 8 characters')

const iam = new Iam(directory)
const account = AWSAccount.DUMMY_ACCOUNT
account.revokeAccessKey('S3RVER')
account.createKeyPair(rootUser, rootPassword)
for (const user of iam.users()) account.createKeyPair(user.accessKey, user.secretKey)

function isRoot(authorization) {
  const match = /^Basic (.+)$/.exec(authorization ?? '')
  const given = Buffer.from(match ? Buffer.from(match[1], 'base64').toString() : '')
  const expected = Buffer.from(`${rootUser}:${rootPassword}`)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

async function readJson(ctx) {
  const chunks = []
  for await (const chunk of ctx.req) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString() || '{}')
}

/** The access key a SigV4 request names (header or presigned query). */
function accessKeyOf(ctx) {
  const credential = /Credential=([^/,\s]+)\//.exec(ctx.get('authorization'))?.[1] ?? ctx.query['X-Amz-Credential']?.split('/')[0]
  return credential
}

async function minioExtras(ctx, next) {
  if (ctx.path === '/minio/health/live' || ctx.path === '/minio/health/ready') {
    ctx.status = 200
    return
  }
  if (ctx.path.startsWith('/minio/admin/')) {
    if (!isRoot(ctx.get('authorization'))) {
      ctx.status = 403
      ctx.body = { error: 'admin calls need the root credentials' }
      return
    }
    try {
      const body = await readJson(ctx)
      if (ctx.path === '/minio/admin/v3/add-canned-policy') iam.addPolicy(ctx.query.name, body)
      else if (ctx.path === '/minio/admin/v3/add-user') {
        iam.addUser(ctx.query.accessKey, body.secretKey)
        account.createKeyPair(ctx.query.accessKey, body.secretKey)
      } else if (ctx.path === '/minio/admin/v3/attach-policy') iam.attach(ctx.query.policyName, ctx.query.userOrGroup)
      else {
        ctx.status = 404
        ctx.body = { error: `unknown admin call ${ctx.path}` }
        return
      }
      ctx.status = 200
      ctx.body = { ok: true }
    } catch (err) {
      ctx.status = 400
      ctx.body = { error: err.message }
    }
    return
  }
  const accessKey = accessKeyOf(ctx)
  if (accessKey && accessKey !== rootUser) {
    const { action, resource } = s3Action(ctx.method, ctx.path, ctx.query)
    if (!iam.allows(accessKey, action, resource)) {
      ctx.status = 403
      ctx.type = 'application/xml'
      ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>${action} on ${resource} is not allowed for this user</Message></Error>`
      return
    }
  }
  return next()
}

// Path-style only: with virtual hosts on, s3rver would take the host name (minio:9000) for a bucket.
const server = new S3rver({ address: '0.0.0.0', port, directory, silent: false, vhostBuckets: false })
server.middleware.unshift(minioExtras)
server.run().then(() => console.log(`minio stand-in (s3rver): S3 API on :${port}, data in ${directory}`))
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => server.close().finally(() => process.exit(0)))
