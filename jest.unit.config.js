'use strict'
/**
 * The unit tier (`npm run test:unit`): every workspace's `*.unit.test.ts`
 * files in one jest run. They test pure code (formats, parsers, guards,
 * templates, config) and reach no Postgres, Redis or RabbitMQ, so they run
 * in seconds on any machine; scripts/test-unit.js runs them in a network
 * namespace of their own where it can, to keep it that way. Each workspace's
 * own `npm test` runs them too.
 */
const { readdirSync, existsSync } = require('node:fs')
const { join } = require('node:path')
// Reporters are a run's setting, not a project's: they move to the top level.
const { reporters, ...preset } = require('@socialnet/jest-preset')

const workspaces = ['apps', 'packages']
  .flatMap((group) => readdirSync(join(__dirname, group)).map((name) => join(group, name)))
  .concat('infra', 'bench')
  .filter((dir) => existsSync(join(__dirname, dir, 'test')))

module.exports = {
  reporters,
  projects: workspaces.map((dir) => ({
    ...preset,
    displayName: dir,
    rootDir: join(__dirname, dir),
    testMatch: ['**/*.unit.test.ts'],
    collectCoverageFrom: ['src/**/*.{ts,tsx}', '!src/**/*.d.ts']
  })),
  coverageDirectory: join(__dirname, 'coverage', 'unit'),
  coverageReporters: ['text-summary', 'lcov'],
  // Pure tests: a worker per core is safe here (no shared ports, queues or databases).
  maxWorkers: '100%'
}
