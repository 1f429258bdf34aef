import { Writable } from 'node:stream'
import Fastify, { type FastifyBaseLogger } from 'fastify'
import fp from 'fastify-plugin'
import pino from 'pino'
import { loggerOptions } from '@socialnet/config'
import app, { serverOptions } from '../../src/app'
import { testEnv, type TestEnv } from '../helper'

/** The api's request log lines for some requests, at a given LOG_LEVEL. */
async function requestLines(env: TestEnv, level: 'info' | 'debug', urls: string[]): Promise<{ url?: string; msg: string; replica: string }[]> {
  const config = { ...env.config, LOG_LEVEL: level }
  const lines: string[] = []
  const stream = new Writable({ write(chunk, _enc, done) { lines.push(...String(chunk).split('\n').filter(Boolean)); done() } })
  const { logger: _logger, ...options } = serverOptions(config)
  const server = Fastify({ ...options, loggerInstance: pino(loggerOptions('api', level, 'api-test-1'), stream) as FastifyBaseLogger })
  try {
    await server.register(fp(app), { config })
    await server.ready()
    for (const url of urls) await server.inject(url)
  } finally {
    await server.close()
  }
  return lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'incoming request' || l.msg === 'request completed')
    .map((l) => ({ url: l.req?.url, msg: l.msg, replica: l.replica }))
}

describe('request log lines', () => {
  let env: TestEnv
  beforeAll(() => { env = testEnv() })
  afterAll(async () => { await env.cleanup() })

  test('probes and scrapes are logged only at debug; every other request at info, with the replica on each line', async () => {
    const urls = ['/health', '/ready?verbose=1', '/metrics', '/v1/users/me']
    const info = await requestLines(env, 'info', urls)
    expect(info.map((l) => l.url ?? l.msg)).toEqual(['/v1/users/me', 'request completed'])
    expect(info.every((l) => l.replica === 'api-test-1')).toBe(true)
    const debug = await requestLines(env, 'debug', urls)
    expect(debug.filter((l) => l.msg === 'incoming request').map((l) => l.url)).toEqual(urls)
  })
})
