import Fastify from 'fastify'
import { serverOptions } from '../../src/app'
import { loadApiConfig } from '../../src/config'

/** The id fastify gave a request sent with `X-Request-Id: chosen-by-client` from `remoteAddress`. */
async function requestId(env: Record<string, string>, remoteAddress: string): Promise<string> {
  const server = Fastify({ ...serverOptions(loadApiConfig({ ...env, LOG_LEVEL: 'silent' })) })
  server.get('/id', async (request) => ({ id: request.id }))
  try {
    const res = await server.inject({ url: '/id', remoteAddress, headers: { 'x-request-id': 'chosen-by-client' } })
    return res.json().id
  } finally {
    await server.close()
  }
}

describe('request ids', () => {
  test('without TRUST_PROXY a client\'s X-Request-Id is ignored: the api makes its own', async () => {
    const id = await requestId({}, '198.51.100.7')
    expect(id).not.toBe('chosen-by-client')
    expect(id).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/)
  })

  test('from a proxy in TRUST_PROXY the forwarded X-Request-Id is kept; from anyone else it is not', async () => {
    const env = { TRUST_PROXY: '10.0.0.5, 192.0.2.0/24' }
    expect(await requestId(env, '10.0.0.5')).toBe('chosen-by-client')
    expect(await requestId(env, '192.0.2.77')).toBe('chosen-by-client')
    expect(await requestId(env, '198.51.100.7')).not.toBe('chosen-by-client')
  })
})
