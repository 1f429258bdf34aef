import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import sharp from 'sharp'
import { thumbnailKey } from '@socialnet/storage'
import { useTestApp } from '../helper'
import { signUp } from '../accounts'
import { jpeg, multipart } from './fixtures'

describe('GET /v1/images/{id}', () => {
  const t = useTestApp({}, { readMail: true })
  let imageId: string

  beforeAll(async () => {
    const ada = await signUp(t.app)
    const body = multipart({ data: await jpeg() })
    const res = await t.app.inject({ method: 'PUT', url: `/v1/users/${ada.id}/avatar`, payload: body.payload, headers: { ...body.headers, ...ada.auth } })
    imageId = res.json().id
  })

  const get = (url: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url, headers })

  test('bytes with ETag, immutable caching, nosniff and the stored type', async () => {
    const res = await get(`/v1/images/${imageId}`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('image/jpeg')
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.headers.etag).toMatch(/^"[\w-]{43}"$/)
    expect(Number(res.headers['content-length'])).toBe(res.rawPayload.length)
    expect((await sharp(res.rawPayload).metadata()).format).toBe('jpeg')
  })

  test('If-None-Match with the ETag -> 304 without a body; another ETag -> 200', async () => {
    const { etag } = (await get(`/v1/images/${imageId}`)).headers
    for (const header of [String(etag), `W/${etag}`, `"other", ${etag}`, '*']) {
      const res = await get(`/v1/images/${imageId}`, { 'if-none-match': header })
      expect(res.statusCode).toBe(304)
      expect(res.rawPayload.length).toBe(0)
      expect(res.headers.etag).toBe(etag)
      expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    }
    expect((await get(`/v1/images/${imageId}`, { 'if-none-match': '"stale"' })).statusCode).toBe(200)
  })

  test('HEAD answers the headers without a body', async () => {
    const res = await t.app.inject({ method: 'HEAD', url: `/v1/images/${imageId}` })
    expect(res.statusCode).toBe(200)
    expect(res.headers.etag).toBeDefined()
    expect(res.rawPayload.length).toBe(0)
  })

  test('unknown or malformed ids -> 404 that no cache keeps', async () => {
    for (const id of [randomUUID(), 'not-an-id', '..%2F..%2Fetc%2Fpasswd']) {
      const res = await get(`/v1/images/${id}`)
      expect(res.statusCode).toBe(404)
      expect(res.json().error).toBe('IMAGE_NOT_FOUND')
      expect(res.headers['cache-control']).toBe('no-store')
    }
    expect((await get(`/v1/images/${imageId}?size=huge`)).statusCode).toBe(400)
  })

  test('a thumbnail not made yet -> 404 THUMBNAIL_NOT_READY with Retry-After, not cached', async () => {
    const res = await get(`/v1/images/${imageId}?size=thumb`)
    expect(res.statusCode).toBe(404)
    expect(res.json().error).toBe('THUMBNAIL_NOT_READY')
    expect(res.headers['retry-after']).toBe('2')
    expect(res.headers['cache-control']).toBe('no-store')
  })

  test('once the worker marked thumbnails ready, ?size=thumb and ?size=512 serve WebP with their own ETag', async () => {
    // What the worker's thumbnails handler does (tested end to end in apps/worker).
    const thumbnails: Record<string, { bytes: number; etag: string }> = {}
    for (const size of [128, 512]) {
      const data = await sharp({ create: { width: size, height: size, channels: 3, background: '#c33' } }).webp().toBuffer()
      await t.app.storage.put(thumbnailKey(imageId, size), Readable.from([data]), { contentType: 'image/webp' })
      thumbnails[size] = { bytes: data.length, etag: `thumb${size}etag` }
    }
    await t.app.db.query("UPDATE images SET thumbnails_state = 'ready', thumbnails = $2 WHERE id = $1", [imageId, thumbnails])
    const thumb = await get(`/v1/images/${imageId}?size=thumb`)
    expect(thumb.statusCode).toBe(200)
    expect(thumb.headers['content-type']).toBe('image/webp')
    expect(thumb.headers.etag).toBe('"thumb128etag"')
    expect((await sharp(thumb.rawPayload).metadata()).width).toBe(128)
    const big = await get(`/v1/images/${imageId}?size=512`)
    expect((await sharp(big.rawPayload).metadata()).width).toBe(512)
    expect((await get(`/v1/images/${imageId}?size=512`, { 'if-none-match': '"thumb512etag"' })).statusCode).toBe(304)
  })
})
