import type { FastifyInstance } from 'fastify'
import { randomInt } from 'node:crypto'
import { useTestApp } from '../helper'

describe('API-wide rate limit (RATE_LIMIT_RPS, counted in Redis)', () => {
  const t = useTestApp({ RATE_LIMIT_RPS: '3' }, { replicas: 2 })
  let a: FastifyInstance
  let b: FastifyInstance
  beforeAll(() => { [a, b] = t.replicas as [FastifyInstance, FastifyInstance] })
  // A client address of its own, so counters from other runs never collide with this one.
  const remoteAddress = `10.${randomInt(255)}.${randomInt(255)}.${randomInt(1, 255)}`

  test('over the limit -> 429 with Retry-After and the JSON error shape; the limit holds across replicas', async () => {
    const statuses: number[] = []
    let limited
    for (let i = 0; i < 10; i++) {
      const res = await (i % 2 ? a : b).inject({ url: '/v1/key/rl', remoteAddress })
      statuses.push(res.statusCode)
      if (res.statusCode === 429) limited = res
    }
    // 3 rps with a 2x burst: 6 requests per 2-second window, whichever replica serves them.
    expect(statuses.filter((s) => s !== 429)).toHaveLength(6)
    expect(limited!.headers['retry-after']).toMatch(/^\d+$/)
    expect(limited!.json()).toEqual({ error: 'RATE_LIMITED', message: expect.stringContaining('retry in') })
  })

  test('probes are never limited', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await a.inject({ url: '/health', remoteAddress })).statusCode).toBe(200)
    }
  })

  test('another client is not affected', async () => {
    expect((await a.inject({ url: '/v1/key/rl', remoteAddress: '10.255.255.254' })).statusCode).not.toBe(429)
  })
})
