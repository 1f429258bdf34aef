'use strict'
/**
 * The users and bucket policies of the MinIO stand-in, kept in one JSON file in the data
 * volume so they survive restarts, and the policy check for a non-root user's request.
 * Only Allow statements on s3:* actions and arn:aws:s3::: resources, which is what a
 * bucket-only service account needs; anything not allowed is denied.
 */
const { existsSync, readFileSync, renameSync, writeFileSync } = require('node:fs')
const { join } = require('node:path')

class Iam {
  constructor(dataDir) {
    this.file = join(dataDir, '.socialnet-iam.json')
    this.state = existsSync(this.file) ? JSON.parse(readFileSync(this.file, 'utf8')) : { users: {}, policies: {} }
  }

  save() {
    writeFileSync(`${this.file}.tmp`, JSON.stringify(this.state, null, 2), { mode: 0o600 })
    renameSync(`${this.file}.tmp`, this.file)
  }

  addPolicy(name, document) {
    if (!Array.isArray(document.Statement)) throw new Error('policy has no Statement list')
    this.state.policies[name] = document
    this.save()
  }

  addUser(accessKey, secretKey) {
    const existing = this.state.users[accessKey]
    this.state.users[accessKey] = { secretKey, policies: existing?.policies ?? [] }
    this.save()
  }

  attach(policy, accessKey) {
    const user = this.state.users[accessKey]
    if (!user) throw new Error(`no such user: ${accessKey}`)
    if (!this.state.policies[policy]) throw new Error(`no such policy: ${policy}`)
    if (!user.policies.includes(policy)) user.policies.push(policy)
    this.save()
  }

  users() {
    return Object.entries(this.state.users).map(([accessKey, user]) => ({ accessKey, secretKey: user.secretKey }))
  }

  /** Whether `accessKey` may do `action` (e.g. s3:GetObject) on `resource` (arn:aws:s3:::bucket/key). */
  allows(accessKey, action, resource) {
    const user = this.state.users[accessKey]
    if (!user) return false
    return user.policies.some((name) =>
      (this.state.policies[name]?.Statement ?? []).some((statement) =>
        statement.Effect === 'Allow' &&
        [].concat(statement.Action).some((pattern) => matches(pattern, action)) &&
        [].concat(statement.Resource).some((pattern) => matches(pattern, resource))))
  }
}

function matches(pattern, value) {
  const regex = new RegExp(`^${String(pattern).split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`)
  return regex.test(value)
}

/** The S3 action and resource of a path-style request, as IAM policies name them. */
function s3Action(method, path, query) {
  const [bucket, ...rest] = path.replace(/^\/+/, '').split('/')
  const key = rest.join('/')
  if (!bucket) return { action: 's3:ListAllMyBuckets', resource: 'arn:aws:s3:::*' }
  const bucketArn = `arn:aws:s3:::${bucket}`
  if (!key) {
    if (method === 'POST' && 'delete' in query) return { action: 's3:DeleteObject', resource: `${bucketArn}/*` }
    if ('location' in query) return { action: 's3:GetBucketLocation', resource: bucketArn }
    if (method === 'PUT') return { action: 's3:CreateBucket', resource: bucketArn }
    if (method === 'DELETE') return { action: 's3:DeleteBucket', resource: bucketArn }
    return { action: 's3:ListBucket', resource: bucketArn }
  }
  const objectArn = `${bucketArn}/${key}`
  if (method === 'GET' || method === 'HEAD') return { action: 's3:GetObject', resource: objectArn }
  if (method === 'DELETE') {
    return { action: 'uploadId' in query ? 's3:AbortMultipartUpload' : 's3:DeleteObject', resource: objectArn }
  }
  return { action: 's3:PutObject', resource: objectArn }
}

module.exports = { Iam, s3Action }
