import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One request as the receiver saw it. */
export interface ReceivedCallback {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
}

/** A real local webhook target (node:http) standing in for a client's server. */
export interface Receiver {
  url: string
  port: number
  received: ReceivedCallback[]
  /** Decides the answer per request; default 200 `ok`. */
  respond: (req: ReceivedCallback, res: ServerResponse) => void
  /** Resolves with the next request that arrives (or one already there beyond `seen`). */
  next(seen?: number): Promise<ReceivedCallback>
  close(): Promise<void>
}

export async function startReceiver(): Promise<Receiver> {
  const waiters: Array<() => void> = []
  const receiver = {
    received: [] as ReceivedCallback[],
    respond: (_req: ReceivedCallback, res: ServerResponse) => { res.end('ok') }
  } as Receiver
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const got = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
      receiver.received.push(got)
      receiver.respond(got, res)
      waiters.splice(0).forEach((w) => w())
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  receiver.port = port
  receiver.url = `http://127.0.0.1:${port}`
  receiver.next = async (seen = receiver.received.length) => {
    while (receiver.received.length <= seen) await new Promise<void>((resolve) => waiters.push(resolve))
    return receiver.received[seen]!
  }
  receiver.close = () => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })
  return receiver
}
