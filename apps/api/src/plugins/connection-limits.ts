import { readFileSync } from 'node:fs'
import type { Socket } from 'node:net'
import fp from 'fastify-plugin'
import { Counter, Gauge } from 'prom-client'

export interface ConnectionLimitOptions {
  /** MAX_CONNECTIONS_PER_IP: open sockets one remote address may hold; 0 = no cap. */
  perIp: number
  /** MAX_CONNECTIONS: open sockets in all (server.maxConnections); 0 = no cap. */
  total: number
  /** A trusted proxy (TRUST_PROXY) carries many clients, so it is not held to the per-address cap. */
  isExempt: (address: string) => boolean
}

/** The process's soft limit on open files (`ulimit -n`), from /proc on Linux; undefined elsewhere or when unlimited. */
export function openFilesLimit(procLimits = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(procLimits, 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
    const soft = Number(line?.trim().split(/\s+/)[3])
    return Number.isFinite(soft) && soft > 0 ? soft : undefined
  } catch {
    return undefined
  }
}

/**
 * The default total connection budget: the file descriptors the process may
 * open, less a reserve for everything that is not a client socket (Postgres and
 * Redis pools, the broker, the KV log, image files, uploads being spooled):
 * a tenth of the limit, at least 256. Past it new connections are closed at
 * once, and the process never runs out of descriptors for its own work.
 */
export function defaultMaxConnections(fdLimit = openFilesLimit()): number {
  if (fdLimit === undefined) return 0
  return Math.max(1, fdLimit - Math.max(256, Math.ceil(fdLimit / 10)))
}

/** Strips the IPv4-mapped prefix, so `::ffff:1.2.3.4` and `1.2.3.4` count as one client. */
function clientAddress(socket: Socket): string {
  const address = socket.remoteAddress ?? ''
  return address.startsWith('::ffff:') ? address.slice(7) : address
}

/**
 * Holds one client to a share of the server's sockets: counts the open
 * sockets per remote address on the server's 'connection' event and destroys
 * a socket past MAX_CONNECTIONS_PER_IP at once, before a byte of it is parsed
 * (so idle or slow-header sockets from one address cannot take every file
 * descriptor). Sets server.maxConnections, which Node enforces the same way
 * for all clients together. The count is of TCP peers: behind a proxy every
 * socket comes from the proxy, so TRUST_PROXY addresses are exempt and the
 * proxy caps each client itself (nginx limit_conn).
 */
export default fp(async function connectionLimits(fastify, opts: ConnectionLimitOptions) {
  const server = fastify.server
  if (opts.total > 0) server.maxConnections = opts.total
  const refused = new Counter({
    name: 'socialnet_connections_refused_total',
    help: 'Connections closed on arrival: over MAX_CONNECTIONS_PER_IP for their address (per_ip) or over MAX_CONNECTIONS (total)',
    labelNames: ['limit'],
    registers: [fastify.metrics.registry]
  })
  const open = new Gauge({ name: 'socialnet_connections_open', help: 'Client sockets open on this api process', registers: [fastify.metrics.registry] })
  server.on('drop', () => refused.inc({ limit: 'total' }))
  const perAddress = new Map<string, number>()
  let total = 0

  server.on('connection', (socket: Socket) => {
    const address = clientAddress(socket)
    const counted = opts.perIp > 0 && address !== '' && !opts.isExempt(address)
    if (counted) {
      const held = perAddress.get(address) ?? 0
      if (held >= opts.perIp) {
        refused.inc({ limit: 'per_ip' })
        socket.destroy()
        return
      }
      perAddress.set(address, held + 1)
    }
    open.set(++total)
    socket.once('close', () => {
      open.set(--total)
      if (!counted) return
      const left = (perAddress.get(address) ?? 1) - 1
      if (left > 0) perAddress.set(address, left)
      else perAddress.delete(address)
    })
  })
  if (opts.perIp === 0) fastify.log.warn('MAX_CONNECTIONS_PER_IP=0: one client may open sockets until the total connection budget is used up')
}, { name: 'connection-limits', dependencies: ['metrics'] })
