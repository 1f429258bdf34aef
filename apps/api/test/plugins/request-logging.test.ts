import { rmSync } from 'node:fs'
import { Writable } from 'node:stream'
import Fastify, { type FastifyBaseLogger } from 'fastify'
import fp from 'fastify-plugin'
import pino from 'pino'
import app, { apiLoggerOptions, serverOptions } from '../../src/app'
import { testEnv, type TestEnv } from '../helper'
import { signUp } from '../accounts'
import { fakeConsoleBuild } from '../console/fake-build'

/** Every line the api logged, in every call below. */
const logged: string[] = []

/** The api's request log lines for some requests, at a given LOG_LEVEL. */
async function requestLines(
  env: TestEnv, level: 'info' | 'debug', urls: string[], overrides: Partial<TestEnv['config']> = {}
): Promise<{ url?: string; msg: string; replica: string }[]> {
  const config = { ...env.config, ...overrides, LOG_LEVEL: level }
  const lines: string[] = []
  const stream = new Writable({ write(chunk, _enc, done) { lines.push(...String(chunk).split('\n').filter(Boolean)); done() } })
  const { logger: _logger, ...options } = serverOptions(config)
  const server = Fastify({ ...options, loggerInstance: pino(apiLoggerOptions(level, 'api-test-1'), stream) as FastifyBaseLogger })
  try {
    await server.register(fp(app), { config })
    await server.ready()
    for (const url of urls) await server.inject(url)
  } finally {
    await server.close()
  }
  logged.push(...lines)
  return lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'incoming request' || l.msg === 'request completed')
    .map((l) => ({ url: l.req?.url, msg: l.msg, replica: l.replica }))
}

describe('request log lines', () => {
  let env: TestEnv
  beforeAll(() => { env = testEnv() })
  afterAll(async () => { await env.cleanup() })

  test('a stream asked of a closing replica: 503 SERVER_CLOSING, logged as one warning with the reason and no stack', async () => {
    const config = { ...env.config, LOG_LEVEL: 'info' as const }
    const lines: string[] = []
    const stream = new Writable({ write(chunk, _enc, done) { lines.push(...String(chunk).split('\n').filter(Boolean)); done() } })
    const { logger: _logger, ...options } = serverOptions(config)
    const server = Fastify({ ...options, loggerInstance: pino(apiLoggerOptions('info', 'api-test-1'), stream) as FastifyBaseLogger })
    try {
      await server.register(fp(app), { config })
      await server.ready()
      const ada = await signUp(server)
      server.eventStreams.closeAll()
      const res = await server.inject({ url: '/v1/events', headers: ada.auth })
      expect([res.statusCode, res.json()]).toEqual([503, { error: 'SERVER_CLOSING', message: 'Service Unavailable' }])
    } finally {
      await server.close()
    }
    const parsed = lines.map((l) => JSON.parse(l))
    expect(parsed.filter((l) => l.msg === 'request failed')).toEqual([])
    const refused = parsed.filter((l) => l.msg === 'request refused')
    expect(refused).toEqual([expect.objectContaining({ level: 40, code: 'SERVER_CLOSING', reason: expect.stringContaining('shutting down') })])
    expect(JSON.stringify(refused)).not.toContain('stack')
  })

  test('probes and scrapes are logged only at debug; every other request at info, with the replica on each line', async () => {
    const urls = ['/health', '/ready?verbose=1', '/metrics', '/v1/users/me']
    const info = await requestLines(env, 'info', urls)
    expect(info.map((l) => l.url ?? l.msg)).toEqual(['/v1/users/me', 'request completed'])
    expect(info.every((l) => l.replica === 'api-test-1')).toBe(true)
    // Milliseconds to two decimals, not 135.27908700000262.
    const times = logged.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request completed').map((l) => l.responseTime as number)
    expect(times.length).toBeGreaterThan(0)
    for (const ms of times) expect(Math.round(ms * 100) / 100).toBe(ms)
    const debug = await requestLines(env, 'debug', urls)
    expect(debug.filter((l) => l.msg === 'incoming request').map((l) => l.url)).toEqual(urls)
  })

  test('the web console\'s own files (script, style, icon, its pages) are logged only at debug; a missing one still at info', async () => {
    const dir = fakeConsoleBuild()
    try {
      const urls = ['/assets/index-Ab12Cd34.js', '/favicon.svg', '/login', '/assets/missing.js']
      const info = await requestLines(env, 'info', urls, { CONSOLE_DIR: dir })
      expect(info.map((l) => l.url ?? l.msg)).toEqual(['/assets/missing.js', 'request completed'])
      const debug = await requestLines(env, 'debug', urls, { CONSOLE_DIR: dir })
      expect(debug.filter((l) => l.msg === 'incoming request').map((l) => l.url)).toEqual(urls)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('secrets in a query string are logged as [redacted]: the verification token, API keys, callback URLs', async () => {
    const secret = 'c2VjcmV0LXZlcmlmaWNhdGlvbi10b2tlbg'
    const urls = [
      `/v1/users/verify?token=${secret}`,
      `/v1/users/verify?x=1&TOKEN=${secret}&y=2`,
      `/v1/users/verify?access_token=${secret}`,
      `/job/callback?callback_url=${encodeURIComponent(`https://hooks.example.com/${secret}`)}`,
      `/v1/users/verify?%74oken=${secret}`
    ]
    const before = logged.length
    const lines = await requestLines(env, 'info', urls)
    expect(lines.filter((l) => l.msg === 'incoming request').map((l) => l.url)).toEqual([
      '/v1/users/verify?token=[redacted]',
      '/v1/users/verify?x=1&TOKEN=[redacted]&y=2',
      '/v1/users/verify?access_token=[redacted]',
      '/job/callback?callback_url=[redacted]',
      '/v1/users/verify?%74oken=[redacted]'
    ])
    // nowhere in any line, the error lines of the 400s included
    expect(logged.slice(before).filter((l) => l.includes(secret))).toEqual([])
  })
})
