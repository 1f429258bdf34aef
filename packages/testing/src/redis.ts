import Redis, { type RedisOptions } from 'ioredis'
import { serviceAddress, withinDeadline } from './deadline'
import { REDIS_URL, SERVICE_TIMEOUT_MS } from './services'

/**
 * ioredis options for a test's own client (`new Redis(url, redisBounds())`): the TCP connect
 * and every command, queued ones included, give up after `timeoutMs`, and a command is not
 * retried across reconnects. ioredis's defaults wait for ever on a Redis that accepted the
 * socket and stopped answering.
 */
export function redisBounds(timeoutMs = SERVICE_TIMEOUT_MS): RedisOptions {
  return { connectTimeout: timeoutMs, commandTimeout: timeoutMs, maxRetriesPerRequest: 1 }
}

/**
 * An ioredis client for a test's own look at the shared Redis, connected and
 * bounded: it gives up connecting (the TCP connect and the ready check) and
 * each command after `timeoutMs` with an error naming Redis, and does not
 * reconnect. Close it with `disconnect()`.
 */
export async function connectRedis(url = REDIS_URL, { timeoutMs = SERVICE_TIMEOUT_MS } = {}): Promise<Redis> {
  const service = `Redis at ${serviceAddress(url)}`
  const redis = new Redis(url, { ...redisBounds(timeoutMs), lazyConnect: true, retryStrategy: () => null })
  redis.on('error', () => {}) // connect() and each command reject with the error; this only silences the echo
  // connectTimeout ends at the TCP connect; a server that accepts and never answers the ready check needs this bound.
  await withinDeadline(redis.connect(), timeoutMs, service, () => redis.disconnect()).catch((err: Error) => {
    redis.disconnect()
    throw err.name === 'ServiceTimeoutError' ? err : new Error(`${service}: ${err.message}`)
  })
  return redis
}

/** Deletes the keys under `prefix` with SCAN + UNLINK, never KEYS: the Redis is shared. */
export async function unlinkRedisKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = await connectRedis(url)
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.unlink(...keys)
      cursor = next
    } while (cursor !== '0')
  } catch (err) {
    throw new Error(`Redis at ${serviceAddress(url)}: ${(err as Error).message}`)
  } finally {
    redis.disconnect()
  }
}
