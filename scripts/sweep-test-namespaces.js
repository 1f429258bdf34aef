// @ts-check
'use strict'
/**
 * `npm run test:sweep` (the first step of the integration tier in `npm test`):
 * removes the test namespaces that runs over a day old left on the shared
 * RabbitMQ, Postgres and Redis (a killed run cannot clean up after itself, and
 * hundreds of leftover quorum queues make a small broker slow to boot and to
 * answer). Younger namespaces stay: other runs on the machine are using them.
 * `--dry-run` lists what would go. Exit 1, naming the service, when one does
 * not answer: the tests would only hang on it.
 */
const { sweepStaleNamespaces } = require('@socialnet/testing')

const dryRun = process.argv.includes('--dry-run')
sweepStaleNamespaces({ dryRun }).then((swept) => {
  const what = `${swept.queues.length} queue(s), ${swept.exchanges.length} exchange(s), ${swept.databases.length} database(s), ${swept.redisKeys} Redis key(s)`
  console.error(`[test:sweep] ${dryRun ? 'would remove' : 'removed'} ${what} of test namespaces over a day old`)
  if (dryRun) for (const name of [...swept.queues, ...swept.exchanges, ...swept.databases]) console.log(name)
}, (/** @type {Error} */ err) => {
  console.error(`[test:sweep] failed: ${err.message}`)
  process.exitCode = 1
})
