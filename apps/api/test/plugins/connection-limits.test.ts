import { connect, type AddressInfo, type Socket } from 'node:net'
import { useTestApp } from '../helper'
import { defaultMaxConnections, openFilesLimit } from '../../src/plugins/connection-limits'
import { isTrustedProxy } from '../../src/plugins/trusted-proxies'

/** What happened to one socket: the bytes it got before it closed. */
interface Outcome { received: string }

/** Opens a socket that sends a request line and then one header byte at a time, never finishing the headers. */
function slowHeaders(port: number): { socket: Socket; closed: Promise<Outcome> } {
  const socket = connect(port, '127.0.0.1')
  let received = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => { received += chunk })
  socket.on('error', () => {})
  socket.on('connect', () => socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '))
  const drip = setInterval(() => { if (socket.writable) socket.write('a') }, 200)
  const closed = new Promise<Outcome>((resolve) => socket.on('close', () => { clearInterval(drip); resolve({ received }) }))
  return { socket, closed }
}

describe('connections: per-address cap and slow headers (the api listening on loopback, no proxy)', () => {
  // A small cap and a short header timeout, so that the test needs 60 sockets and a second.
  const t = useTestApp({ MAX_CONNECTIONS_PER_IP: '50', HEADERS_TIMEOUT_MS: '1000', REQUEST_TIMEOUT_MS: '5000', CONNECTIONS_CHECK_MS: '200' })
  let port: number
  beforeAll(async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    port = (t.app.server.address() as AddressInfo).port
  })

  test('past MAX_CONNECTIONS_PER_IP sockets are closed on arrival; slow headers are cut with 408; then a normal request is served', async () => {
    const first = Array.from({ length: 50 }, () => slowHeaders(port))
    // All 50 are counted before the extra ones arrive: wait until the server has them.
    while ((await connectionCount(t.app.server)) < 50) await new Promise((resolve) => setTimeout(resolve, 20))
    const extra = Array.from({ length: 10 }, () => slowHeaders(port))

    // The extra sockets are closed without a byte: they never reached the HTTP parser.
    const extraOutcomes = await Promise.all(extra.map((s) => s.closed))
    expect(extraOutcomes.map((o) => o.received)).toEqual(Array(10).fill(''))
    // The 50 dribbling a header byte every 200 ms are cut by HEADERS_TIMEOUT_MS with a 408, not kept for a minute.
    const outcomes = await Promise.all(first.map((s) => s.closed))
    for (const { received } of outcomes) expect(received).toMatch(/^HTTP\/1\.1 408 /)
    expect(JSON.parse(outcomes[0]!.received.split('\r\n\r\n')[1]!)).toEqual({ error: 'REQUEST_TIMEOUT', message: expect.any(String) })

    // Their slots are free again: the same address is served.
    const res = await fetch(`http://127.0.0.1:${port}/health`)
    expect(res.status).toBe(200)
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    expect(metrics).toMatch(/socialnet_connections_refused_total\{limit="per_ip"\} 10\b/)
  })
})

function connectionCount(server: import('node:net').Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, n) => err ? reject(err) : resolve(n)))
}

describe('connections: the total budget', () => {
  test('defaults to the open-files limit less a reserve for pools and files', () => {
    expect(defaultMaxConnections(1024)).toBe(768)
    expect(defaultMaxConnections(65536)).toBe(65536 - 6554)
    // Linux: read from /proc, as `ulimit -n` shows it.
    const limit = openFilesLimit()
    if (process.platform === 'linux') expect(limit).toBeGreaterThan(0)
  })
})

describe('connections: trusted proxies are exempt from the per-address cap', () => {
  test('TRUST_PROXY addresses, subnets and names (as fastify reads them) are recognised; clients are not', () => {
    const trusted = isTrustedProxy(['172.28.0.10', '10.0.0.0/8', 'loopback', 'fd00::/8'])
    expect(trusted('172.28.0.10')).toBe(true)
    expect(trusted('10.42.1.7')).toBe(true)
    expect(trusted('127.0.0.1')).toBe(true)
    expect(trusted('::1')).toBe(true)
    expect(trusted('fd12::1')).toBe(true)
    expect(trusted('203.0.113.5')).toBe(false)
    expect(trusted('172.28.0.11')).toBe(false)
    expect(isTrustedProxy([])('127.0.0.1')).toBe(false)
  })
})
