/**
 * redis.restart: a PRIVATE redis-server (own port, own dir, AOF fsync
 * always, like the compose service's --appendonly yes) holds the job
 * statuses of an api and a worker; it is restarted while clients submit
 * callback jobs. Every 202 must reach the callback receiver (counted by its
 * webhook-id), and duplicates are counted. The shared Redis on 6379 is never
 * touched.
 */
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { signUp } from '../harness'
import { freePort, namespace, sleep, startApi, startChild, tally, waitUntil, type Api, type Child, type Fault } from './testbed'

const REDIS_SERVER = process.env.REDIS_SERVER_BIN || 'redis-server'

async function startRedis(port: number, dir: string): Promise<Child> {
  const redis = startChild('redis', {}, {
    command: REDIS_SERVER,
    args: ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always']
  })
  const ready = await waitUntil(() => !redis.running() || redis.output.includes('Ready to accept connections'), 10000)
  if (!ready || !redis.running()) {
    await redis.kill()
    throw new Error(`redis-server did not start: ${redis.output}`)
  }
  return redis
}

/** An HTTP receiver counting callbacks per webhook-id. */
async function startReceiver() {
  const byJob = new Map<string, number>()
  const server = createServer((req, res) => {
    req.resume().on('end', () => {
      const id = req.headers['webhook-id']
      if (typeof id === 'string') byJob.set(id, (byJob.get(id) || 0) + 1)
      res.end('ok')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { byJob, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }) }
}

export const redisRestart: Fault = {
  name: 'redis.restart',
  fault: 'restart Redis (private instance, AOF) while callback jobs are submitted and processed',
  async run({ quick, log }) {
    const ns = namespace('redis')
    let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined
    let redis: Child | undefined
    let api: Api | undefined
    let worker: Child | undefined
    let running = true
    let clients: Promise<void>[] = []
    try {
      const port = await freePort()
      const hooks = receiver = await startReceiver()
      redis = await startRedis(port, ns.dir)
      // The per-user job rate would refuse most of this load: the fault is about Redis, not the limiter.
      const env = { ...ns.env, REDIS_URL: `redis://127.0.0.1:${port}`, CALLBACK_ALLOW_HOSTS: '127.0.0.1', JOBS_MAX_ATTEMPTS: '20', JOB_RATE_PER_MINUTE: '0' }
      const app = api = await startApi(env)
      // Sessions live in the same Redis (AOF): the login outlives the restart.
      const { authorization } = await signUp(app.url)
      worker = startChild('worker', env)
      const accepted: string[] = []
      const failures = new Map<string | number, number>()
      const client = async (c: number) => {
        for (let i = 0; running; i++) {
          try {
            const res = await fetch(`${app.url}/v1/jobs`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization },
              body: JSON.stringify({ type: 'callback', callbackUrl: hooks.url, data: { c, i } }),
              signal: AbortSignal.timeout(20000)
            })
            const body = await res.json() as { id: string }
            if (res.status === 202) accepted.push(body.id)
            else failures.set(res.status, (failures.get(res.status) || 0) + 1)
          } catch (err) {
            const name = err instanceof Error ? err.name : 'Error'
            failures.set(name, (failures.get(name) || 0) + 1)
          }
          await sleep(20)
        }
      }
      clients = [0, 1, 2, 3].map(client)
      await sleep(quick ? 1500 : 3000)
      log(`redis.restart: ${accepted.length} jobs accepted, ${hooks.byJob.size} called back; stopping Redis`)
      await redis.kill('SIGTERM')
      await sleep(3000)
      redis = await startRedis(port, ns.dir)
      log('redis.restart: Redis is back')
      await sleep(quick ? 1500 : 3000)
      running = false
      await Promise.all(clients)
      await waitUntil(() => accepted.every((id) => hooks.byJob.has(id)), 60000)
      await sleep(1000)
      const failed = [...failures].map(([k, v]) => `${v} x ${k}`).join(', ')
      return { ...tally(accepted, hooks.byJob), failed: [...failures.values()].reduce((a, b) => a + b, 0), notes: `callbacks counted by webhook-id${failed ? `; submissions refused while Redis was down: ${failed}` : ''}` }
    } finally {
      running = false
      await Promise.all(clients)
      if (worker) await worker.stop()
      if (api) await api.stop()
      if (redis) await redis.stop()
      if (receiver) await receiver.close()
      await ns.cleanup()
    }
  }
}
