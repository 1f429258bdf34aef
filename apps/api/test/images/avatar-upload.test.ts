import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import sharp from 'sharp'
import { useTestApp } from '../helper'
import { signUp, type TestAccount } from '../accounts'
import { jpeg, jpegWithGps, multipart, pngBomb } from './fixtures'

describe('PUT /v1/users/{id}/avatar', () => {
  const t = useTestApp({ PUBLIC_URL: 'https://social.example/' }, { readMail: true })
  let ada: TestAccount
  let bob: TestAccount

  beforeAll(async () => {
    ada = await signUp(t.app)
    bob = await signUp(t.app)
  })

  const upload = (user: { id: string }, file: Parameters<typeof multipart>[0], headers: Record<string, string> = {}) => {
    const body = multipart(file)
    return t.app.inject({ method: 'PUT', url: `/v1/users/${user.id}/avatar`, payload: body.payload, headers: { ...body.headers, ...headers } })
  }
  const imageRows = async () => Number((await t.app.db.query('SELECT count(*) FROM images')).rows[0].count)
  const storedBytes = async (url: string) => {
    const res = await t.app.inject({ method: 'GET', url: new URL(url).pathname + new URL(url).search })
    expect(res.statusCode).toBe(200)
    return res.rawPayload
  }

  test('401 without a token and 403 for another user\'s avatar; nothing is stored', async () => {
    const data = await jpeg()
    const anonymous = await upload(ada, { data })
    expect(anonymous.statusCode).toBe(401)
    const stranger = await upload(ada, { data }, bob.auth)
    expect(stranger.statusCode).toBe(403)
    expect(stranger.json().error).toBe('FORBIDDEN')
    expect(await imageRows()).toBe(0)
  })

  test('201 with absolute URLs from PUBLIC_URL, thumbnails pending, and a thumbnail request in the outbox', async () => {
    const res = await upload(ada, { data: await jpeg(), filename: '../../etc/passwd', contentType: 'text/plain' }, ada.auth)
    expect(res.statusCode).toBe(201)
    const body = res.json()
    expect(body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      url: `https://social.example/v1/images/${body.id}`,
      contentType: 'image/jpeg',
      thumbnails: {
        status: 'pending',
        urls: { 128: `https://social.example/v1/images/${body.id}?size=128`, 512: `https://social.example/v1/images/${body.id}?size=512` }
      }
    })
    expect(res.headers.location).toBe(body.url)
    const { rows } = await t.app.db.query("SELECT payload FROM outbox WHERE type = 'image.thumbnails.v1'")
    expect(rows.map((r) => r.payload)).toContainEqual({ imageId: body.id, sizes: [128, 512] })
    const stored = await sharp(await storedBytes(body.url)).metadata()
    expect(stored).toMatchObject({ format: 'jpeg', width: 640, height: 480 })
    // the client's filename went nowhere
    expect(readdirSync(join(t.env.dir, 'images', 'images'))).toEqual([body.id])
  })

  test('a JPEG with GPS EXIF and trailing bytes is stored re-encoded, without any of it', async () => {
    const original = await jpegWithGps()
    expect((await sharp(original).metadata()).exif?.toString('latin1')).toContain('SpyCam')
    const res = await upload(ada, { data: original }, ada.auth)
    expect(res.statusCode).toBe(201)
    const stored = await storedBytes(res.json().url)
    const meta = await sharp(stored).metadata()
    expect(meta.exif).toBeUndefined()
    expect(meta.xmp).toBeUndefined()
    expect(stored.includes('SpyCam')).toBe(false)
    expect(stored.includes('TRAILING-SECRET')).toBe(false)
    expect(stored.equals(original)).toBe(false)
  })

  test('a text file named .png and declared image/png -> 415, nothing stored', async () => {
    const before = await imageRows()
    const res = await upload(ada, { data: Buffer.from('just some text, honest\n'.repeat(100)), filename: 'cat.png', contentType: 'image/png' }, ada.auth)
    expect(res.statusCode).toBe(415)
    expect(res.json().error).toBe('UNSUPPORTED_IMAGE_TYPE')
    expect(await imageRows()).toBe(before)
  })

  test('an SVG (an image format, but a document with scripts) -> 415', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>')
    const res = await upload(ada, { data: svg, filename: 'a.svg', contentType: 'image/svg+xml' }, ada.auth)
    expect(res.statusCode).toBe(415)
  })

  test('a damaged JPEG (header fine, data cut short) -> 422', async () => {
    const whole = await jpeg(800, 600)
    const res = await upload(ada, { data: whole.subarray(0, Math.floor(whole.length / 3)) }, ada.auth)
    expect(res.statusCode).toBe(422)
    expect(res.json().error).toBe('IMAGE_CORRUPT')
  })

  test('a 15000x15000 PNG decompression bomb -> 422 while the memory stays flat', async () => {
    const bomb = pngBomb(15000)
    expect(bomb.length).toBeLessThan(100_000)
    const before = process.memoryUsage().rss
    const res = await upload(ada, { data: bomb, filename: 'bomb.png', contentType: 'image/png' }, ada.auth)
    const grown = process.memoryUsage().rss - before
    expect(res.statusCode).toBe(422)
    expect(res.json()).toEqual({ error: 'IMAGE_TOO_MANY_PIXELS', message: 'the image is 15000x15000 pixels; at most 40000000 pixels are accepted' })
    // decoding it would take ~675 MB
    expect(grown).toBeLessThan(64 * 1024 * 1024)
  })

  test('not multipart -> 415; no "image" field -> 400', async () => {
    const raw = await t.app.inject({ method: 'PUT', url: `/v1/users/${ada.id}/avatar`, payload: await jpeg(), headers: { ...ada.auth, 'content-type': 'image/jpeg' } })
    expect(raw.statusCode).toBe(415)
    const form = await t.app.inject({ method: 'PUT', url: `/v1/users/${ada.id}/avatar`, payload: 'image=x', headers: { ...ada.auth, 'content-type': 'application/x-www-form-urlencoded' } })
    expect(form.statusCode).toBe(415)
    const wrongField = await upload(ada, { field: 'photo', data: await jpeg() }, ada.auth)
    expect(wrongField.statusCode).toBe(400)
    expect(wrongField.json().error).toBe('IMAGE_MISSING')
  })

  test('a malformed multipart body (no boundary, cut before the closing boundary) -> 400, nothing stored', async () => {
    const before = await imageRows()
    const put = (payload: string, contentType: string) =>
      t.app.inject({ method: 'PUT', url: `/v1/users/${ada.id}/avatar`, payload, headers: { ...ada.auth, 'content-type': contentType } })
    const noBoundary = await put('x', 'multipart/form-data')
    expect(noBoundary.statusCode).toBe(400)
    expect(noBoundary.json().error).toBe('MALFORMED_UPLOAD')
    const cut = await put('--x\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\nhalf a fi', 'multipart/form-data; boundary=x')
    expect(cut.statusCode).toBe(400)
    expect(cut.json().error).toBe('MALFORMED_UPLOAD')
    expect(await imageRows()).toBe(before)
  })

  test('a user id that is not a plain UUID -> 400, also in the urn:uuid: form Postgres would refuse', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/v1/users/urn:uuid:${ada.id}/avatar` })
    expect(res.statusCode).toBe(400)
    expect(res.json().error).toBe('VALIDATION_FAILED')
  })

  test('a new avatar replaces the old one: the old row is marked for removal, GET avatar points to the new one', async () => {
    const first = (await upload(bob, { data: await jpeg() }, bob.auth)).json()
    const second = (await upload(bob, { data: await jpeg(300, 300) }, bob.auth)).json()
    const { rows } = await t.app.db.query('SELECT id, replaced_at FROM images WHERE owner_id = $1 ORDER BY created_at', [bob.id])
    expect(rows.map((r) => [r.id, r.replaced_at !== null])).toEqual([[first.id, true], [second.id, false]])
    const current = await t.app.inject({ method: 'GET', url: `/v1/users/${bob.id}/avatar` })
    expect(current.json().id).toBe(second.id)
  })

  test('concurrent uploads by one user: those refused as in flight (429) store nothing, exactly one current avatar', async () => {
    const carol = await signUp(t.app)
    const results = await Promise.all(Array.from({ length: 4 }, async () => upload(carol, { data: await jpeg(200, 200) }, carol.auth)))
    const stored = results.filter((r) => r.statusCode === 201).length
    expect(stored).toBeGreaterThanOrEqual(1)
    expect(results.filter((r) => r.statusCode !== 201).map((r) => r.json().error)).toEqual(Array(4 - stored).fill('UPLOAD_IN_FLIGHT'))
    const { rows } = await t.app.db.query('SELECT count(*) FILTER (WHERE replaced_at IS NULL) AS current, count(*) AS total FROM images WHERE owner_id = $1', [carol.id])
    expect(rows[0]).toEqual({ current: '1', total: String(stored) })
  })

  test('a 30 MB upload over a real socket -> 413 promptly, the temp file is gone, nothing stored', async () => {
    const before = await imageRows()
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' })
    const big = Buffer.alloc(30 * 1024 * 1024, 7)
    const body = multipart({ data: big, filename: 'huge.jpg', contentType: 'image/jpeg' })
    const res = await request(`${address}/v1/users/${ada.id}/avatar`, {
      method: 'PUT', body: body.payload, headers: { ...body.headers, ...ada.auth }, headersTimeout: 30_000, bodyTimeout: 30_000
    })
    expect(res.statusCode).toBe(413)
    expect(await res.body.json()).toEqual({ error: 'IMAGE_TOO_LARGE', message: 'the image is larger than 10485760 bytes' })
    expect(await imageRows()).toBe(before)
    expect(readdirSync(t.env.config.UPLOAD_TMP_DIR!).filter((f) => f.startsWith('upload-'))).toEqual([])
  })
})
