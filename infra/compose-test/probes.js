'use strict'
/**
 * Things the compose test does inside the containers with `docker exec`, using only what the
 * images ship (node, the built apps and their node_modules): mint a key-value API key with
 * the api's admin CLI, and try to publish where a service user must not.
 */

const ADMIN_CLI = '/app/apps/api/dist/admin/cli.js'
const DLQ_CLI = '/app/apps/api/dist/admin/dlq-cli.js'

/** Gives a registered user the admin role with the api's admin CLI (`npm run admin -- promote`). */
async function promote(project, email) {
  return (await project.compose(['exec', '-T', 'api', 'node', ADMIN_CLI, 'promote', email])).trim()
}

/** The dead-letter CLI (`npm run dlq -- …`) inside an api container; answers its output. */
async function dlq(project, args) {
  return (await project.compose(['exec', '-T', 'api', 'node', DLQ_CLI, ...args])).trim()
}

/** Headers that authorize KV reads and writes: a fresh API key minted with the api's admin CLI. */
async function kvApiKey(project) {
  const out = await project.compose(['exec', '-T', 'api', 'node', ADMIN_CLI, 'api-key', 'create', '--scope', 'kv:write'])
  const key = /\b(snk_[A-Za-z0-9_-]{16,})\b/.exec(out)?.[1]
  if (!key) throw new Error(`no API key in the admin CLI's output: ${out.trim().slice(0, 200)}`)
  return { authorization: `Bearer ${key}` }
}

/**
 * Publishes, with the container's own AMQP_URL, a job message to the jobs queue through
 * every route a service user might try; answers `{route: 'refused: …' | 'published' | 'returned'}`.
 */
async function publishAs(project, container) {
  const script = `
const amqp = require('amqplib')
const routes = { 'default exchange -> socialnet.jobs': ['', 'socialnet.jobs'], 'socialnet exchange, job.log': ['socialnet', 'job.log'] }
;(async () => {
  const out = {}
  const connection = await amqp.connect(process.env.AMQP_URL)
  connection.on('error', () => {})
  for (const [route, [exchange, key]] of Object.entries(routes)) {
    const channel = await connection.createConfirmChannel()
    // "Channel closed by server: 403 (ACCESS-REFUSED) with message ..." -> "refused: 403 ACCESS-REFUSED"
    const refused = (err) => 'refused: ' + (/(\\d{3}) \\(([A-Z-]+)\\)/.exec(String(err.message)) ?? [, '', String(err.message)]).slice(1).join(' ').trim()
    channel.on('error', (err) => { out[route] ??= refused(err) })
    channel.on('return', () => { out[route] ??= 'returned' })
    try {
      channel.publish(exchange, key, Buffer.from('{}'), { persistent: true, mandatory: true, messageId: 'compose-test-probe', type: 'job.log.v1', contentType: 'application/json' })
      await channel.waitForConfirms()
      await new Promise((resolve) => setTimeout(resolve, 200))
      out[route] ??= 'published'
      await channel.close()
    } catch (err) {
      out[route] ??= refused(err)
    }
  }
  console.log(JSON.stringify(out))
  await connection.close().catch(() => {})
})().catch((err) => { console.log(JSON.stringify({ connect: 'failed: ' + err.message })) })`
  return JSON.parse((await project.exec(container, ['node', '-e', script])).trim().split('\n').pop())
}

module.exports = { kvApiKey, publishAs, promote, dlq }
