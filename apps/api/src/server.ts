import Fastify from 'fastify'
import fp from 'fastify-plugin'
import closeWithGrace from 'close-with-grace'
import { loadConfigOrExit } from '@socialnet/config'
import { loadApiConfig } from './config'
import { stopAcceptingAndDrain } from './shutdown-drain'

/** Entry point: validate env, build the app, listen, and shut down gracefully on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadConfigOrExit('api', () => loadApiConfig())
  // The app's modules load only once the environment is known good: a typo fails in a blink.
  // require, not import(): in this CommonJS build, import() of a relative path without an
  // extension does not type-check, and its value would lose the app's types.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { default: app, serverOptions } = require('./app') as typeof import('./app')
  const server = Fastify(serverOptions(config))
  // A second signal or the deadline exits at once; otherwise this replica waits for its turn to
  // leave (when several are signalled together), then new connections are refused (a proxy
  // retries them on another replica), open ones drain, in-flight requests finish, and onClose
  // hooks flush the KV log and release pools.
  closeWithGrace({ delay: config.SHUTDOWN_HANDOFF_MS + config.SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err) server.log.error({ err }, 'shutting down after an uncaught error')
    else {
      server.log.info({ signal }, 'shutting down gracefully')
      await server.waitForTurnToLeave()
    }
    await server.close()
  })
  server.addHook('preClose', async () => {
    // Event streams never end by themselves: end them first (clients reconnect to another
    // replica), or the drain would wait its whole time for them.
    server.eventStreams.closeAll()
    if (server.server.listening) await stopAcceptingAndDrain(server.server, config.SHUTDOWN_DRAIN_MS, server.log)
  })
  await server.register(fp(app), { config })
  await server.listen({ port: config.PORT, host: config.HOST })
}

main().catch((err: Error) => {
  process.stderr.write(`api: failed to start: ${err.message}\n`)
  process.exit(1)
})
