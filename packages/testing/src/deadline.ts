/** The error a bounded wait on a shared service rejects with: its message names the service. */
export class ServiceTimeoutError extends Error {
  readonly code = 'SERVICE_TIMEOUT'
  constructor(readonly service: string, readonly ms: number) {
    super(`${service} did not answer within ${ms / 1000} s`)
    this.name = 'ServiceTimeoutError'
  }
}

/**
 * Resolves like `promise`, or rejects with ServiceTimeoutError after `ms` and
 * calls `giveUp` (destroy the socket, disconnect the client): a service that
 * accepted the connection and then stopped answering would otherwise hold the
 * wait, and the socket with it, until Jest's own timeout, and then keep Jest
 * from exiting after the run.
 */
export async function withinDeadline<T>(promise: Promise<T>, ms: number, service: string, giveUp: () => void = () => {}): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      giveUp()
      reject(new ServiceTimeoutError(service, ms))
    }, ms)
  })
  try {
    return await Promise.race([promise, expired])
  } finally {
    clearTimeout(timer)
  }
}

/** `host:port` of a service URL, for error messages (never its credentials). */
export function serviceAddress(url: string): string {
  const { hostname, port, protocol } = new URL(url)
  const defaults: Record<string, string> = { 'amqp:': '5672', 'amqps:': '5671', 'redis:': '6379', 'postgres:': '5432', 'postgresql:': '5432', 'http:': '80' }
  return `${hostname}:${port || defaults[protocol] || '?'}`
}
