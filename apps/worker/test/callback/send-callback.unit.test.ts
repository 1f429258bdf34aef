import { parseAllowHosts, type HostResolver } from '@socialnet/jobs'
import { CallbackFailedError, sendCallback, type CallbackSenderOptions } from '../../src/callback/send-callback'
import { Webhook } from 'standardwebhooks'
import { WebhookSigner } from '../../src/callback/webhook-signer'
import { startReceiver, type Receiver } from './receiver'

const SECRET = 'whsec_dGVzdC1zZWNyZXQtMDEyMzQ1Njc4OWFiY2RlZg=='
const OTHER = 'whsec_YW5vdGhlci1zZWNyZXQtMDEyMzQ1Njc4OWFiY2Q='

describe('sendCallback against a real local receiver', () => {
  let receiver: Receiver
  let opts: CallbackSenderOptions

  beforeAll(async () => {
    receiver = await startReceiver()
    opts = { signer: new WebhookSigner([SECRET]), timeoutMs: 2000, retryAfterMaxMs: 600_000, maxResponseBytes: 1024, allowHosts: parseAllowHosts('127.0.0.1') }
  })
  afterEach(() => { receiver.respond = (_req, res) => { res.end('ok') } })
  afterAll(() => receiver.close())

  test('POSTs the JSON body signed per Standard Webhooks; the standardwebhooks package verifies it', async () => {
    const body = JSON.stringify({ id: 'j1', data: { n: 1, s: 'é' } })
    const seen = receiver.received.length
    const delivery = await sendCallback(`${receiver.url}/hook?x=1`, body, 'j1', opts)
    expect(delivery).toEqual({ statusCode: 200, address: '127.0.0.1' })
    const got = await receiver.next(seen)
    expect(got).toMatchObject({ method: 'POST', url: '/hook?x=1', body })
    expect(got.headers['content-type']).toBe('application/json')
    expect(got.headers['webhook-id']).toBe('j1')
    expect(got.headers['webhook-timestamp']).toMatch(/^\d+$/)
    expect(got.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/)
    const headers = got.headers as Record<string, string>
    expect(new Webhook(SECRET).verify(got.body, headers)).toEqual({ id: 'j1', data: { n: 1, s: 'é' } })
    // Any change to body, secret, id or timestamp breaks it.
    expect(() => new Webhook(SECRET).verify(`${got.body} `, headers)).toThrow()
    expect(() => new Webhook(OTHER).verify(got.body, headers)).toThrow()
    expect(() => new Webhook(SECRET).verify(got.body, { ...headers, 'webhook-id': 'j2' })).toThrow()
    expect(() => new Webhook(SECRET).verify(got.body, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) + 1) })).toThrow()
  })

  test('an old (replayed) signature is refused by the verifier', () => {
    const body = '{"a":1}'
    const old = new WebhookSigner([SECRET]).headers('j1', body, new Date(Date.now() - 3600_000))
    expect(() => new Webhook(SECRET).verify(body, old)).toThrow(/too old/)
  })

  test('while rotating, every secret signs: a receiver that knows only one of them verifies', async () => {
    const seen = receiver.received.length
    await sendCallback(`${receiver.url}/rotating`, '{"r":1}', 'j-rot', { ...opts, signer: new WebhookSigner([OTHER, SECRET]) })
    const got = await receiver.next(seen)
    expect(String(got.headers['webhook-signature']).split(' ')).toHaveLength(2)
    for (const secret of [SECRET, OTHER]) expect(new Webhook(secret).verify(got.body, got.headers as Record<string, string>)).toEqual({ r: 1 })
  })

  test('connects to the address that was checked, never resolving the name again (DNS rebinding)', async () => {
    // "rebind.test" exists only in this resolver: if the socket asked the
    // system DNS again the request would fail; arriving proves the pinning.
    let lookups = 0
    const resolve: HostResolver = async () => { lookups += 1; return [{ address: '127.0.0.1', family: 4 }] }
    const seen = receiver.received.length
    const delivery = await sendCallback(`http://rebind.test:${receiver.port}/pinned`, '{}', 'j1', { ...opts, resolve, allowHosts: parseAllowHosts('rebind.test') })
    expect(delivery.statusCode).toBe(200)
    expect(lookups).toBe(1)
    expect((await receiver.next(seen)).headers.host).toBe(`rebind.test:${receiver.port}`)
  })

  test('a forbidden IP literal is refused before anything is sent (permanent)', async () => {
    const seen = receiver.received.length
    const err = await sendCallback(`${receiver.url}/hook`, '{}', 'j1', { ...opts, allowHosts: new Set() }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CallbackFailedError)
    // The submitter reads a generic reason; the check's detail is for the worker's log only.
    expect(err).toMatchObject({ permanent: true, message: 'callback target refused: private address or unknown host', detail: expect.stringContaining('loopback') })
    expect((err as Error).message).not.toContain('127.0.0.1')
    expect(receiver.received.length).toBe(seen)
  })

  test('a name resolving to a private address and a name that does not resolve fail alike: same text, same code, both retried, nothing sent', async () => {
    const resolve: HostResolver = async (hostname) => {
      if (hostname === 'intranet.example') return [{ address: '127.0.0.1', family: 4 }]
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
    }
    const seen = receiver.received.length
    const failures = []
    for (const host of ['intranet.example', 'no-such-name.example']) {
      const err = await sendCallback(`http://${host}:${receiver.port}/hook`, '{}', 'j1', { ...opts, allowHosts: new Set(), resolve }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(CallbackFailedError)
      const { message, code, permanent } = err as CallbackFailedError
      failures.push({ message, code, permanent })
    }
    expect(failures).toEqual([
      { message: 'CALLBACK_UNREACHABLE: could not reach the callback host', code: 'CALLBACK_UNREACHABLE', permanent: false },
      { message: 'CALLBACK_UNREACHABLE: could not reach the callback host', code: 'CALLBACK_UNREACHABLE', permanent: false }
    ])
    // the SSRF guarantee holds: the private address was never dialled
    expect(receiver.received.length).toBe(seen)
  })

  test('a redirect is not followed and fails the callback for good', async () => {
    receiver.respond = (req, res) => {
      if (req.url === '/moved') { res.writeHead(302, { location: '/elsewhere' }); res.end() } else res.end('ok')
    }
    const seen = receiver.received.length
    const err = await sendCallback(`${receiver.url}/moved`, '{}', 'j1', opts).catch((e: unknown) => e)
    expect(err).toMatchObject({ permanent: true, message: expect.stringContaining('redirects are not followed') })
    expect(receiver.received.slice(seen).map((r) => r.url)).toEqual(['/moved'])
  })

  test.each([
    [500, false], [503, false], [429, false], [408, false], [404, true], [400, true], [410, true]
  ])('an answer %i fails the attempt (permanent: %s)', async (status, permanent) => {
    receiver.respond = (_req, res) => { res.statusCode = status; res.end('no') }
    const err = await sendCallback(`${receiver.url}/s`, '{}', 'j1', opts).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CallbackFailedError)
    expect((err as CallbackFailedError).permanent).toBe(permanent)
  })

  test('a receiver that never answers times out (retryable)', async () => {
    receiver.respond = () => { /* hang */ }
    const err = await sendCallback(`${receiver.url}/hang`, '{}', 'j1', { ...opts, timeoutMs: 300 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ permanent: false, message: 'connection failed', detail: expect.stringContaining('timed out') })
  })

  test('an oversized answer is cut off at the cap; its status still counts', async () => {
    receiver.respond = (_req, res) => {
      res.writeHead(200)
      const chunk = Buffer.alloc(64 * 1024, 'x')
      const write = (): void => { while (res.write(chunk)) { /* keep streaming until back-pressure */ } res.once('drain', write) }
      write()
      res.on('error', () => {})
    }
    await expect(sendCallback(`${receiver.url}/big`, '{}', 'j1', opts)).resolves.toMatchObject({ statusCode: 200 })
  })

  test('a refused connection is retryable', async () => {
    const dead = await startReceiver()
    await dead.close()
    const err = await sendCallback(`${dead.url}/x`, '{}', 'j1', opts).catch((e: unknown) => e)
    // Refused and timed out read the same to the submitter: no port scan through our worker.
    expect(err).toMatchObject({ permanent: false, message: 'connection failed', detail: expect.stringContaining('ECONNREFUSED') })
  })
})
