/**
 * api.kill-9: SIGKILL the api (KV_FSYNC=always, file log) while clients PUT
 * unique keys, start it again on the same log, and read back every key that
 * got a 201: a 201 means "fsynced", so every one of them must be there with
 * its value. Requests in flight at the kill got no 201 and may go either way.
 */
import { randomBytes } from 'node:crypto'
import { namespace, pool, sleep, startApi, type Api, type Fault } from './testbed'

const CLIENTS = 16

export const apiKill: Fault = {
  name: 'api.kill-9',
  fault: 'kill -9 the api during PUTs (KV_FSYNC=always), restart on the same log',
  async run({ quick, log }) {
    const ns = namespace('apikill')
    // Open store: this fault is about durability, not access (KV_AUTH=token is tested in apps/api).
    const env = { ...ns.env, KV_FSYNC: 'always', KV_AUTH: 'open' }
    let api: Api | undefined
    try {
      const first = api = await startApi(env)
      const acked = new Map<string, string>()
      let inFlightErrors = 0
      let running = true
      let n = 0
      const client = async () => {
        while (running) {
          const key = `fault-${n++}`
          const value = `${key}:${randomBytes(8).toString('hex')}`
          try {
            const res = await fetch(`${first.url}/v1/key/${key}`, { method: 'PUT', body: value })
            await res.arrayBuffer()
            if (res.status === 201) acked.set(key, value)
          } catch {
            inFlightErrors++
            return // the api is gone: this client stops
          }
        }
      }
      const clients = Array.from({ length: CLIENTS }, client)
      await sleep(quick ? 1500 : 3000)
      log(`api.kill-9: ${acked.size} PUTs acknowledged; SIGKILL api (pid ${first.child.pid})`)
      await first.kill('SIGKILL')
      running = false
      await Promise.all(clients)

      const second = api = await startApi(env)
      let delivered = 0
      const missing: string[] = []
      const keys = [...acked.keys()]
      await pool(keys.length, 16, async (i) => {
        const key = keys[i]!
        const res = await fetch(`${second.url}/v1/key/${key}`)
        const body = await res.text()
        if (res.status === 200 && body === acked.get(key)) delivered++
        else missing.push(key)
      })
      return {
        accepted: acked.size,
        delivered,
        lost: acked.size - delivered,
        duplicated: 0,
        notes: `every 201 read back after the restart; ${inFlightErrors} requests in flight at the kill got no answer${missing.length ? `; missing e.g. ${missing.slice(0, 3).join(', ')}` : ''}`
      }
    } finally {
      if (api) await api.stop()
      await ns.cleanup()
    }
  }
}
