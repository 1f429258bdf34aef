import { PassThrough } from 'node:stream'
import sharp from 'sharp'
import { request } from 'undici'
import type { FastifyInstance } from 'fastify'
import { useTestApp } from '../helper'
import { signUp, type TestAccount } from '../accounts'
import { blankPng, jpeg, multipart } from './fixtures'

/** A gauge's value on /metrics (0 when the series is not there yet). */
async function gauge(app: FastifyInstance, series: string): Promise<number> {
  const line = (await app.inject('/metrics')).body.split('\n').find((l) => l.startsWith(`${series} `))
  return line ? Number(line.split(' ')[1]) : 0
}

/** Polls until `check` is true (the jest timeout bounds the wait). */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 20))
}

function uploader(app: () => FastifyInstance) {
  return (user: TestAccount, data: Buffer) => {
    const body = multipart({ data, filename: 'a.png', contentType: 'image/png' })
    return app().inject({ method: 'PUT', url: `/v1/users/${user.id}/avatar`, payload: body.payload, headers: { ...body.headers, ...user.auth } })
  }
}

describe('avatar uploads: shape limits from the header, one upload per user', () => {
  const t = useTestApp()
  const upload = uploader(() => t.app)
  let ada: TestAccount

  beforeAll(async () => {
    ada = await signUp(t.app)
  })

  test('the 1 x 39,000,000 strip (under IMAGE_MAX_PIXELS) -> 422 IMAGE_TOO_WIDE, nothing stored', async () => {
    const strip = blankPng(1, 39_000_000)
    expect(strip.length).toBeLessThan(200_000)
    const res = await upload(ada, strip)
    expect(res.statusCode).toBe(422)
    expect(res.json()).toEqual({ error: 'IMAGE_TOO_WIDE', message: 'the image is 1x39000000 pixels; no side may be longer than 10000 pixels' })
    expect((await t.app.db.query('SELECT count(*) FROM images')).rows[0].count).toBe('0')
  })

  test('a side over IMAGE_MAX_SIDE -> 422 IMAGE_TOO_WIDE, tall or wide', async () => {
    for (const [w, h] of [[12_000, 1_000], [1_000, 12_000]]) {
      const res = await upload(ada, blankPng(w!, h!))
      expect(res.statusCode).toBe(422)
      expect(res.json().error).toBe('IMAGE_TOO_WIDE')
    }
  })

  test('thinner than 1:20 -> 422 IMAGE_BAD_ASPECT; exactly 1:20 is accepted', async () => {
    const thin = await upload(ada, blankPng(5_000, 200))
    expect(thin.statusCode).toBe(422)
    expect(thin.json()).toEqual({ error: 'IMAGE_BAD_ASPECT', message: 'the image is 5000x200 pixels; its long side may be at most 20 times its short side' })
    const panorama = await upload(ada, blankPng(4_000, 200))
    expect(panorama.statusCode).toBe(201)
  })

  test('a second upload while the same user\'s first is in progress -> 429 UPLOAD_IN_FLIGHT with Retry-After; the first still succeeds', async () => {
    const bob = await signUp(t.app)
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' })
    // The first upload's body is held open half-way: it stays in progress until we end it.
    const body = multipart({ data: await jpeg(320, 240), filename: 'a.jpg', contentType: 'image/jpeg' })
    const half = Math.floor(body.payload.length / 2)
    const stream = new PassThrough()
    stream.write(body.payload.subarray(0, half))
    const first = request(`${address}/v1/users/${bob.id}/avatar`, { method: 'PUT', body: stream, headers: { ...body.headers, ...bob.auth } })
    await until(async () => (await gauge(t.app, 'image_uploads_in_progress')) === 1)

    const second = await upload(bob, await jpeg(64, 64))
    expect(second.statusCode).toBe(429)
    expect(second.headers['retry-after']).toBe('2')
    expect(second.json().error).toBe('UPLOAD_IN_FLIGHT')
    // Someone else is not held up by bob's upload.
    expect((await upload(ada, await jpeg(64, 64))).statusCode).toBe(201)

    stream.end(body.payload.subarray(half))
    const res = await first
    expect(res.statusCode).toBe(201)
    await res.body.dump()
    expect(await gauge(t.app, 'image_uploads_in_progress')).toBe(0)
    // Once the first has finished, bob may upload again.
    expect((await upload(bob, await jpeg(64, 64))).statusCode).toBe(201)
  })
})

describe('avatar uploads: processing time limit', () => {
  // Shape limits opened up so the slow strip reaches the encoder, and stopped after 1 s there.
  const t = useTestApp({ IMAGE_MAX_SIDE: '100000000', IMAGE_MAX_ASPECT: '100000000', IMAGE_TIMEOUT_SECONDS: '1' })
  const upload = uploader(() => t.app)

  test('an image slower than IMAGE_TIMEOUT_SECONDS -> 422 IMAGE_TOO_SLOW, nothing stored, and the slot is free again', async () => {
    const ada = await signUp(t.app)
    const res = await upload(ada, blankPng(1, 39_000_000))
    expect(res.statusCode).toBe(422)
    expect(res.json()).toEqual({ error: 'IMAGE_TOO_SLOW', message: 'the image took longer than 1 seconds to process; send a smaller or simpler image' })
    expect((await t.app.db.query('SELECT count(*) FROM images')).rows[0].count).toBe('0')
    expect((await upload(ada, await jpeg(64, 64))).statusCode).toBe(201)
  })
})

describe('avatar uploads: fair encode slots', () => {
  // One large slot and one small one (the defaults on a 2-core machine), whatever this machine has.
  const t = useTestApp({ IMAGE_ENCODE_SLOTS: '1', IMAGE_SMALL_SLOTS: '1' })
  const upload = uploader(() => t.app)

  test('while three accounts upload huge and thin images in a loop, a 64 x 64 avatar finishes before their queued work', async () => {
    const attackers = await Promise.all([signUp(t.app), signUp(t.app), signUp(t.app)])
    const victim = await signUp(t.app)
    const huge = blankPng(6_000, 6_000) // 36 MP: within every limit, in the large lane
    const thin = blankPng(1, 39_000_000)
    const finished: string[] = []
    let stop = false
    const attack = async (account: TestAccount, name: string) => {
      for (let round = 0; !stop; round++) {
        expect((await upload(account, thin)).statusCode).toBe(422)
        const res = await upload(account, huge)
        expect(res.statusCode).toBe(201)
        finished.push(`${name}#${round}`)
      }
    }
    const attacking = attackers.map((a, i) => attack(a, `attacker${i}`))
    // Two of the three huge uploads wait for the one large slot.
    await until(async () => (await gauge(t.app, 'image_encode_queued{lane="large"}')) === 2)
    const queuedAtStart = finished.length
    const res = await upload(victim, await jpeg(64, 64))
    expect(res.statusCode).toBe(201)
    finished.push('victim')
    stop = true
    await Promise.all(attacking)

    // Of the three huge uploads in progress when the victim started, at most the one being
    // encoded finished first: the victim did not wait behind the queued ones.
    const before = finished.slice(queuedAtStart, finished.indexOf('victim'))
    expect(before.length).toBeLessThanOrEqual(1)
    expect(finished.length).toBeGreaterThanOrEqual(queuedAtStart + 4)
  })
})

describe('GET /v1/images/limits: what the upload route enforces, for the console to check before uploading', () => {
  const t = useTestApp({ UPLOAD_MAX_BYTES: '200000' })
  const upload = uploader(() => t.app)
  let ada: TestAccount

  beforeAll(async () => {
    ada = await signUp(t.app)
  })

  test('answers the size limit, the formats and the shape limits to anyone, cacheable', async () => {
    const res = await t.app.inject('/v1/images/limits')
    expect(res.statusCode).toBe(200)
    expect(res.headers['cache-control']).toBe('public, max-age=300')
    expect(res.json()).toEqual({
      maxBytes: 200000,
      formats: [
        { name: 'JPEG', mediaType: 'image/jpeg' },
        { name: 'PNG', mediaType: 'image/png' },
        { name: 'WebP', mediaType: 'image/webp' },
        { name: 'GIF', mediaType: 'image/gif' },
        { name: 'TIFF', mediaType: 'image/tiff' },
        { name: 'AVIF', mediaType: 'image/avif' }
      ],
      maxPixels: expect.any(Number),
      maxSide: 10000,
      maxAspect: 20
    })
  })

  test('the upload route holds to them: a file over maxBytes is 413, a GIF is taken, anything else names the same formats', async () => {
    const { maxBytes, formats } = (await t.app.inject('/v1/images/limits')).json() as { maxBytes: number; formats: { name: string }[] }
    const tooBig = await upload(ada, await jpeg(1000, 800))
    expect([tooBig.statusCode, tooBig.json()]).toEqual([413, { error: 'IMAGE_TOO_LARGE', message: `the image is larger than ${maxBytes} bytes` }])
    const gif = await upload(ada, await sharp({ create: { width: 16, height: 16, channels: 3, background: '#f60' } }).gif().toBuffer())
    expect(gif.statusCode).toBe(201)
    const text = await upload(ada, Buffer.from('not an image at all'))
    expect(text.statusCode).toBe(415)
    expect(text.json().message).toBe(`not a supported image (unrecognised data); send ${formats.slice(0, -1).map((f) => f.name).join(', ')} or AVIF`)
  })
})
