// @ts-check
'use strict'
/**
 * `npm run test:unit`: the unit tier (jest.unit.config.js), after the build it
 * imports. Where it can (root on Linux, with util-linux's unshare), it runs in a
 * network namespace of its own with only a loopback interface: a "unit" test
 * that reaches Postgres, Redis or RabbitMQ then fails here, on the machine that
 * has them, instead of passing until someone runs it on a laptop without them.
 * Extra arguments go to jest (e.g. --coverage, a file pattern).
 */
const { spawnSync } = require('node:child_process')
const { resolve } = require('node:path')

const ROOT = resolve(__dirname, '..')
/** @param {string} command @param {string[]} args */
const run = (command, args) => spawnSync(command, args, { cwd: ROOT, stdio: 'inherit' }).status ?? 1

const built = run(process.execPath, [require.resolve('turbo/bin/turbo'), 'run', 'build', '--output-logs=errors-only'])
if (built !== 0) process.exit(built)

const jest = [process.execPath, require.resolve('jest/bin/jest'), '-c', 'jest.unit.config.js', ...process.argv.slice(2)]
const isolated = process.platform === 'linux' && process.getuid?.() === 0 &&
  spawnSync('unshare', ['--net', 'true'], { stdio: 'ignore' }).status === 0
if (isolated) {
  console.error('[test:unit] in a network namespace of its own: no service is reachable')
  const quoted = jest.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
  process.exit(run('unshare', ['--net', 'sh', '-c', `ip link set lo up && exec ${quoted}`]))
}
process.exit(run(process.execPath, jest.slice(1)))
