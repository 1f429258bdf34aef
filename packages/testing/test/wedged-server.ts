import { once } from 'node:events'
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net'

/**
 * A TCP server on 127.0.0.1 that accepts every connection and never sends a
 * byte: what a wedged broker, Redis or Postgres looks like from a client (the
 * port is open, the handshake never ends). With `forwardTo` it first relays to
 * the real service, until `wedge()`: then a connection that was working stops
 * answering, with no reset. A real local server, not a mock.
 */
export class WedgedServer {
  private readonly sockets = new Set<Socket>()
  private wedged: boolean

  private constructor(private readonly server: Server, forwardTo?: number) {
    this.wedged = forwardTo === undefined
    server.on('connection', (client) => {
      this.track(client)
      // Read and drop what a client sends: a socket nobody reads never sees the client's FIN, and never closes.
      if (forwardTo === undefined) return void client.resume()
      const upstream = this.track(createConnection(forwardTo, '127.0.0.1'))
      for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
        from.on('data', (chunk: Buffer) => { if (!this.wedged) to.write(chunk) })
        from.on('close', () => to.destroy())
      }
    })
  }

  static async start({ forwardTo }: { forwardTo?: number } = {}): Promise<WedgedServer> {
    const wedged = new WedgedServer(createServer().listen(0, '127.0.0.1'), forwardTo)
    await once(wedged.server, 'listening')
    return wedged
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port
  }

  /** Connections still open, both sides counted: 0 once the client gave up and dropped its socket. */
  get openConnections(): number {
    return this.sockets.size
  }

  /** Stops relaying in both directions and keeps every socket open. */
  wedge(): void {
    this.wedged = true
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    await new Promise((resolve) => this.server.close(resolve))
  }

  private track(socket: Socket): Socket {
    this.sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => this.sockets.delete(socket))
    return socket
  }
}
