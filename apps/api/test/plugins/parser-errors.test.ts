import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { useTestApp } from '../helper'

/** Sends raw bytes to the listening api and returns the whole response (the server closes the socket). */
function rawRequest(port: number, request: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request))
    let data = ''
    socket.on('data', (d) => { data += d.toString() })
    socket.on('error', reject)
    socket.on('close', () => {
      const [head = '', body = ''] = data.split('\r\n\r\n')
      resolve({ status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body })
    })
  })
}

describe('errors before a route runs answer { error, message } too', () => {
  const t = useTestApp()
  let port: number
  beforeAll(async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    port = (t.app.server.address() as AddressInfo).port
  })
  const post = (url: string, contentType: string, body: string) =>
    fetch(`http://127.0.0.1:${port}${url}`, { method: 'POST', headers: { 'content-type': contentType }, body })

  test('broken or empty JSON -> 400 INVALID_JSON', async () => {
    for (const body of ['{"login":', '', '{"__proto__":{"admin":true}}']) {
      const res = await post('/v1/sessions', 'application/json', body)
      expect(res.status).toBe(400)
      expect(await res.json()).toEqual({ error: 'INVALID_JSON', message: expect.stringMatching(/json/i) })
    }
  })

  test('a content-type the route does not read -> 415 naming it', async () => {
    const res = await post('/v1/sessions', 'application/xml', '<login/>')
    expect(res.status).toBe(415)
    expect(await res.json()).toEqual({ error: 'UNSUPPORTED_MEDIA_TYPE', message: 'content-type "application/xml" is not accepted here' })
  })

  test('a body over the limit -> 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await post('/v1/sessions', 'application/json', JSON.stringify({ login: 'x'.repeat(10_000), password: 'y' }))
    expect(res.status).toBe(413)
    expect(await res.json()).toEqual({ error: 'PAYLOAD_TOO_LARGE', message: expect.any(String) })
  })

  test('headers over 16 KiB -> 431 with a JSON body, then the connection closes', async () => {
    const res = await rawRequest(port, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    expect(res.status).toBe(431)
    expect(res.headers).toContain('content-type: application/json')
    expect(res.headers).toContain('x-content-type-options: nosniff')
    expect(JSON.parse(res.body)).toEqual({ error: 'HEADERS_TOO_LARGE', message: expect.stringContaining('16 KiB') })
  })

  test('a malformed request -> 400 BAD_REQUEST with a JSON body', async () => {
    const res = await rawRequest(port, 'GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n')
    expect(res.status).toBe(400)
    expect(JSON.parse(res.body)).toEqual({ error: 'BAD_REQUEST', message: 'malformed HTTP request' })
  })
})
