import type { FastifyInstance } from 'fastify'
import { randomInt } from 'node:crypto'
import { loadApiConfig } from '../../src/config'
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

  test('the liveness probe is never limited', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await a.inject({ url: '/health', remoteAddress })).statusCode).toBe(200)
    }
  })

  test('/docs/json is limited like any route', async () => {
    const address = `10.1.${randomInt(255)}.${randomInt(1, 255)}`
    const statuses: number[] = []
    for (let i = 0; i < 10; i++) statuses.push((await a.inject({ url: '/docs/json', remoteAddress: address })).statusCode)
    expect(statuses.filter((s) => s === 200)).toHaveLength(6)
    expect(statuses.filter((s) => s === 429)).toHaveLength(4)
  })

  test('/ready and /metrics have a generous limit of their own (100 per 10 s per client), then 429', async () => {
    for (const url of ['/ready', '/metrics']) {
      const address = `10.2.${randomInt(255)}.${randomInt(1, 255)}`
      const statuses: number[] = []
      for (let i = 0; i < 101; i++) statuses.push((await (i % 2 ? a : b).inject({ url, remoteAddress: address })).statusCode)
      // Far above the API-wide 6 per window: an orchestrator polling every second never meets it.
      expect({ url, ok: statuses.slice(0, 100).every((s) => s === 200), last: statuses[100] }).toEqual({ url, ok: true, last: 429 })
      // Counted apart from the API-wide limit: the client's other requests still pass.
      expect((await a.inject({ url: '/v1/key/rl', remoteAddress: address })).statusCode).not.toBe(429)
    }
  })

  test('another client is not affected', async () => {
    expect((await a.inject({ url: '/v1/key/rl', remoteAddress: '10.255.255.254' })).statusCode).not.toBe(429)
  })
})

describe('RATE_LIMIT_REDIS_PREFIX', () => {
  const first = useTestApp({ RATE_LIMIT_RPS: '1' })
  const second = useTestApp({ RATE_LIMIT_RPS: '1' })

  test('two deployments on one Redis with different prefixes do not share counters', async () => {
    expect(first.env.config.RATE_LIMIT_REDIS_PREFIX).not.toBe(second.env.config.RATE_LIMIT_REDIS_PREFIX)
    const remoteAddress = `10.3.${randomInt(255)}.${randomInt(1, 255)}`
    const statuses = []
    for (let i = 0; i < 3; i++) statuses.push((await first.app.inject({ url: '/v1/key/rl', remoteAddress })).statusCode)
    expect(statuses[2]).toBe(429)
    expect((await second.app.inject({ url: '/v1/key/rl', remoteAddress })).statusCode).not.toBe(429)
    const keys = await first.app.redis.keys(`${first.env.config.RATE_LIMIT_REDIS_PREFIX}*`)
    expect(keys.length).toBeGreaterThan(0)
  })

  test('a prefix with characters outside [A-Za-z0-9_.:-] is a config error', () => {
    expect(() => loadApiConfig({ RATE_LIMIT_REDIS_PREFIX: 'has space' })).toThrow(/RATE_LIMIT_REDIS_PREFIX/)
  })
})
