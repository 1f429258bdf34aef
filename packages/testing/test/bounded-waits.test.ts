import { connectAmqp, connectRedis, management, waitFor, withPgAdmin, AMQP_URL } from '../src'
import { WedgedServer } from './wedged-server'

// Short bounds: the point is that each wait ends, with the service's name, and lets its socket go.
const timeoutMs = 500

describe('a service that accepts connections and never answers', () => {
  let wedged: WedgedServer
  beforeEach(async () => { wedged = await WedgedServer.start() })
  afterEach(() => wedged.close())

  it('fails an AMQP connect naming RabbitMQ and its address, and drops the socket', async () => {
    await expect(connectAmqp(`amqp://guest:guest@127.0.0.1:${wedged.port}`, { timeoutMs }))
      .rejects.toThrow(`RabbitMQ (AMQP at 127.0.0.1:${wedged.port}) did not complete the AMQP handshake within 0.5 s`)
    await waitFor(() => wedged.openConnections === 0, 'the AMQP socket to close')
  })

  it('fails a management API request naming the management API, without the credentials', async () => {
    const failure = management('GET', '/api/queues', undefined, {}, { baseUrl: `http://guest:secret@127.0.0.1:${wedged.port}`, timeoutMs })
    await expect(failure).rejects.toThrow(`RabbitMQ management API at http://127.0.0.1:${wedged.port} did not answer GET /api/queues within 0.5 s`)
    await expect(failure).rejects.not.toThrow('secret')
    await waitFor(() => wedged.openConnections === 0, 'the HTTP socket to close')
  })

  it('fails a Redis connect naming Redis, and drops the socket', async () => {
    await expect(connectRedis(`redis://127.0.0.1:${wedged.port}`, { timeoutMs }))
      .rejects.toThrow(`Redis at 127.0.0.1:${wedged.port} did not answer within 0.5 s`)
    await waitFor(() => wedged.openConnections === 0, 'the Redis socket to close')
  })

  it('fails a Postgres connect naming PostgreSQL, and drops the socket', async () => {
    await expect(withPgAdmin(async () => 'never', { url: `postgres://postgres@127.0.0.1:${wedged.port}/postgres`, timeoutMs }))
      .rejects.toThrow(`PostgreSQL at 127.0.0.1:${wedged.port}: no connection within 0.5 s`)
    await waitFor(() => wedged.openConnections === 0, 'the Postgres socket to close')
  })
})

describe('a broker that stops answering once connected', () => {
  it("bounds the close of a test's own AMQP connection and drops its socket", async () => {
    const proxy = await WedgedServer.start({ forwardTo: Number(new URL(AMQP_URL).port || 5672) })
    try {
      const url = new URL(AMQP_URL)
      url.hostname = '127.0.0.1'
      url.port = String(proxy.port)
      const model = await connectAmqp(url.toString(), { timeoutMs })
      proxy.wedge()
      await expect(model.close()).rejects.toThrow(`RabbitMQ (AMQP at 127.0.0.1:${proxy.port}) (closing the connection) did not answer within 0.5 s`)
      // The client side went with the bound; the proxy's own leg to the broker is closed with it.
      await waitFor(() => proxy.openConnections === 0, 'the AMQP socket to close')
    } finally {
      await proxy.close()
    }
  })
})
