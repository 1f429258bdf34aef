'use strict'
/**
 * A jest reporter that bounds how long jest may stay alive after its last test.
 *
 * Jest waits for every handle to close before it exits. A test whose connection
 * to a service is stuck (a broker that accepted the socket and stopped answering)
 * keeps it alive for ever ("Jest did not exit one second after the test run has
 * completed"), and CI with it. `forceExit` would end that at once but also hide
 * every leak in a green run; this watchdog gives the handles a minute to close
 * (JEST_EXIT_WATCHDOG_MS), then names the sockets still open, with the service
 * behind each port, and exits 1. It is the last line of defence: the test
 * helpers bound every wait on a service so that nothing is left open.
 */
const net = require('node:net')

/** The shared services by port, from the URLs the tests use (and their defaults). */
function servicesByPort() {
  const port = (url, fallback) => {
    try { return Number(new URL(url).port) || fallback } catch { return fallback }
  }
  const env = process.env
  return new Map([
    [port(env.AMQP_URL ?? '', 5672), 'RabbitMQ (AMQP)'],
    [port(env.RABBITMQ_MANAGEMENT_URL ?? '', 15672), 'RabbitMQ management API'],
    [port(env.REDIS_URL ?? '', 6379), 'Redis'],
    [port(env.TEST_PG_ADMIN_URL ?? '', 5432), 'PostgreSQL']
  ])
}

/** `host:port (service)` of each socket still connected somewhere. */
function openSockets() {
  const services = servicesByPort()
  // _getActiveHandles is undocumented but long-standing; getActiveResourcesInfo only gives type names.
  const handles = typeof process._getActiveHandles === 'function' ? process._getActiveHandles() : []
  return handles
    .filter((handle) => handle instanceof net.Socket && handle.remotePort)
    .map((socket) => `${socket.remoteAddress}:${socket.remotePort}${services.has(socket.remotePort) ? ` (${services.get(socket.remotePort)})` : ''}`)
}

class ExitWatchdog {
  constructor(globalConfig, options = {}) {
    this.ms = Number(process.env.JEST_EXIT_WATCHDOG_MS ?? options.ms ?? 60_000)
    // In watch mode jest stays alive on purpose, between runs.
    this.armed = !globalConfig.watch && !globalConfig.watchAll
  }

  onRunComplete() {
    if (!this.armed) return
    // unref: the watchdog itself never keeps jest alive; it fires only if something else does.
    setTimeout(() => {
      const sockets = openSockets()
      const open = sockets.length > 0 ? `sockets still open to ${sockets.join(', ')}` : `still active: ${process.getActiveResourcesInfo().join(', ')}`
      console.error(`\n[jest] still running ${this.ms / 1000} s after the last test (${open}): exiting with a failure instead of holding the run`)
      process.exit(1)
    }, this.ms).unref()
  }
}

module.exports = ExitWatchdog
