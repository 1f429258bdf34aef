import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A webhook target that holds every request open (a slow receiver), so a job stays IN_PROGRESS until cancelled. */
export interface HoldingHookServer {
  url: string
  /** Resolves once a callback has arrived (and is being held). */
  received: Promise<void>
  close(): Promise<void>
}

export async function startHoldingHookServer(): Promise<HoldingHookServer> {
  const held: ServerResponse[] = []
  let arrived!: () => void
  const received = new Promise<void>((resolve) => { arrived = resolve })
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    held.push(res)
    arrived()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    async close() {
      for (const res of held) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
