import { Server as NetServer } from 'node:net'
import type { Server } from 'node:http'
import type { FastifyBaseLogger } from 'fastify'

/** How many sockets the server still holds (in flight or idle keep-alive). */
function openConnections(server: Server): Promise<number> {
  return new Promise((resolve) => server.getConnections((err, count) => resolve(err ? 0 : count)))
}

/**
 * The first step of a graceful stop, for an api behind a proxy with upstream
 * keep-alive (nginx): refuse new connections, keep serving the open ones, and
 * wait until they are gone or `drainMs` has passed.
 *
 * A refused connect never reached us, so the proxy retries it on another
 * replica even for a POST. Requests still arriving on open connections are
 * answered (fastify adds `Connection: close` once closing), and idle ones are
 * closed by the proxy itself when its upstream keepalive_timeout (shorter than
 * `drainMs`) passes. `http.Server#close()` would instead close idle keep-alive
 * sockets at once, racing a proxy that is just sending a request on one: a
 * POST lost in that race is not retried and the client gets a 502.
 */
export async function stopAcceptingAndDrain(server: Server, drainMs: number, log: FastifyBaseLogger): Promise<void> {
  // net.Server's close only stops listening; http.Server's also drops idle keep-alive sockets.
  NetServer.prototype.close.call(server)
  const deadline = Date.now() + drainMs
  let open = await openConnections(server)
  while (open > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    open = await openConnections(server)
  }
  log.info({ openConnections: open }, open === 0 ? 'connections drained' : 'drain time over; closing the remaining connections')
}
