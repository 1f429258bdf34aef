import { createServer, type AddressInfo } from 'node:net'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Polls until `check` holds, for what cannot be awaited as an event (a state in
 * another process or service). The deadline only turns a hang into a clear failure:
 * tests assert outcomes, never timings.
 */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  await waitForValue(async () => (await check()) || undefined, what, timeoutMs)
}

/** Like waitFor, for a value: polls `find` until it returns something, and resolves with it. */
export async function waitForValue<T>(find: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = await find()
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

/** A port nothing listens on (yet): bind to 0 on loopback, read the port, let it go. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}
