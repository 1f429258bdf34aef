'use strict'
/**
 * Shared jest preset. ts-jest transpiles (type checking is `npm run check-types`),
 * tests live in test/ mirroring src/, and every suite talks to the real
 * Postgres, Redis and RabbitMQ on localhost, so they get generous timeouts.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Transpile only (isolatedModules): type checking is `npm run check-types`.
    '^.+\\.ts$': ['ts-jest', { tsconfig: { module: 'commonjs', target: 'es2022', esModuleInterop: true, isolatedModules: true } }],
    '/node_modules/.+\\.js$': ['ts-jest', { tsconfig: { module: 'commonjs', target: 'es2022', allowJs: true, isolatedModules: true } }]
  },
  // cookie@2 (light-my-request, i.e. inject) and content-disposition@3 (@fastify/static,
  // i.e. the docs UI) ship ESM only. Node >= 20.19 requires them natively, jest's module
  // system cannot, so ts-jest turns just those into CommonJS for the tests.
  transformIgnorePatterns: ['/node_modules/(?!(cookie|content-disposition)/)'],
  testTimeout: 60000,
  // Jest waits for open handles before it exits; a socket stuck on a service that stopped
  // answering would hold it (and CI) for ever. See exit-watchdog.js for why not forceExit.
  reporters: ['default', require.resolve('./exit-watchdog.js')],
  // Suites own ports, queues and databases; running them one file at a time
  // keeps a 2-core machine from turning load into flaky timeouts.
  maxWorkers: 1
}
