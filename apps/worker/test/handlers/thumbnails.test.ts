import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import sharp from 'sharp'
import { LocalStorage, originalKey, thumbnailKey } from '@socialnet/storage'
import { Harness } from '../harness'
import type { Worker } from '../../src/worker'

/** Polls until `check` returns a value (the jest timeout bounds the wait). */
async function eventually<T>(check: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

describe('thumbnails queue and image sweeper', () => {
  let dir: string
  let h: Harness
  let worker: Worker
  let storage: LocalStorage

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'socialnet-worker-images-'))
    // The sweeper's timer stays out of the way (1 h); tests call sweepNow().
    h = await new Harness({ STORAGE_DIR: dir, IMAGE_REPLACED_GRACE_SECONDS: '60', IMAGE_SWEEP_INTERVAL_MS: '3600000' }).open()
    worker = await h.startWorker()
    storage = new LocalStorage(dir)
  })
  afterAll(async () => {
    await h.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** What the api leaves behind after an upload: a stored row (of a user of its own) and the original object. */
  async function storedImage(data?: Buffer, fields = "state = 'stored'"): Promise<string> {
    const id = randomUUID()
    const [owner] = await h.query<{ id: string }>(
      "INSERT INTO users (email, nickname, password_hash) VALUES ($1 || '@example.com', $1, 'x') RETURNING id", [`u${id.slice(0, 8)}`])
    const ownerId = owner!.id
    const original = data ?? await sharp({ create: { width: 800, height: 600, channels: 3, background: '#3a6' } }).jpeg().toBuffer()
    await storage.put(originalKey(id), Readable.from([original]), { contentType: 'image/jpeg' })
    await h.query(
      'INSERT INTO images (id, owner_id, content_type, width, height, bytes, etag) VALUES ($1, $2, \'image/jpeg\', 800, 600, $3, \'e\')',
      [id, ownerId, original.length])
    await h.query(`UPDATE images SET ${fields} WHERE id = $1`, [id])
    return id
  }

  test('an image.thumbnails.v1 message makes square 128 and 512 px WebP thumbnails and marks the row ready', async () => {
    const id = await storedImage()
    await h.publisher.publish({ type: 'image.thumbnails.v1', messageId: randomUUID(), payload: { imageId: id, sizes: [128, 512] } })
    const row = await eventually(async () => {
      const [r] = await h.query<{ thumbnails_state: string; thumbnails: Record<string, { bytes: number; etag: string }> }>(
        'SELECT thumbnails_state, thumbnails FROM images WHERE id = $1', [id])
      return r?.thumbnails_state === 'ready' ? r : undefined
    })
    for (const size of [128, 512]) {
      const object = await storage.get(thumbnailKey(id, size))
      const bytes = await buffer(object!.body)
      expect(await sharp(bytes).metadata()).toMatchObject({ format: 'webp', width: size, height: size })
      expect(row.thumbnails[String(size)]).toEqual({ bytes: bytes.length, etag: expect.stringMatching(/^[\w-]{43}$/) })
    }
  })

  test('a message for an unknown or deleted image is acknowledged without doing anything', async () => {
    const gone = await storedImage(undefined, "state = 'stored', deleted_at = now()")
    for (const imageId of [randomUUID(), gone]) {
      await h.publisher.publish({ type: 'image.thumbnails.v1', messageId: randomUUID(), payload: { imageId, sizes: [128] } })
    }
    const queue = h.names.queues.thumbnails.name
    await eventually(async () => ((await h.channel.checkQueue(queue)).messageCount === 0 ? true : undefined))
    expect(await storage.get(thumbnailKey(gone, 128))).toBeUndefined()
  })

  test('a stored image whose original is not in the store (the api and the worker each on its own STORAGE_DIR) is retried, then dead-lettered naming the store', async () => {
    const id = await storedImage()
    await storage.delete(originalKey(id))
    await h.publisher.publish({ type: 'image.thumbnails.v1', messageId: randomUUID(), payload: { imageId: id, sizes: [128] } })
    const dead = await h.nextMessage(h.names.queues.thumbnails.dlq)
    expect(JSON.parse(dead.payload)).toEqual({ imageId: id, sizes: [128] })
    const headers = JSON.stringify(dead.properties.headers)
    expect(headers).toContain('THUMBNAIL_ORIGINAL_MISSING')
    expect(headers).toContain(`not in this worker's store (${dir})`)
  })

  test('an original that cannot be decoded goes to the dead-letter queue with the reason', async () => {
    const id = await storedImage(Buffer.from('not an image at all'))
    await h.publisher.publish({ type: 'image.thumbnails.v1', messageId: randomUUID(), payload: { imageId: id, sizes: [128] } })
    const dead = await h.nextMessage(h.names.queues.thumbnails.dlq)
    expect(JSON.parse(dead.payload)).toEqual({ imageId: id, sizes: [128] })
    expect(JSON.stringify(dead.properties.headers)).toContain('cannot make the 128 px thumbnail')
    const [row] = await h.query<{ thumbnails_state: string }>('SELECT thumbnails_state FROM images WHERE id = $1', [id])
    expect(row!.thumbnails_state).toBe('pending')
  })

  test('a strip too thin to cut a square from at a bounded cost goes to the dead-letter queue before any resize', async () => {
    // 16 x 100,000 px: the 128 px square would be cut from a 102 MP image.
    const strip = await sharp({ create: { width: 16, height: 100_000, channels: 3, background: '#000' } }).png().toBuffer()
    const id = await storedImage(strip)
    await h.publisher.publish({ type: 'image.thumbnails.v1', messageId: randomUUID(), payload: { imageId: id, sizes: [128] } })
    const dead = await h.nextMessage(h.names.queues.thumbnails.dlq)
    expect(JSON.parse(dead.payload)).toEqual({ imageId: id, sizes: [128] })
    expect(JSON.stringify(dead.properties.headers)).toContain('would be cut from a 102400000 pixel image')
    expect(await storage.get(thumbnailKey(id, 128))).toBeUndefined()
  })

  test('the sweeper removes replaced avatars after the grace period and abandoned uploads, and nothing else', async () => {
    const current = await storedImage()
    const justReplaced = await storedImage(undefined, "state = 'stored', replaced_at = now()")
    const longReplaced = await storedImage(undefined, "state = 'stored', replaced_at = now() - interval '2 hours'")
    await storage.put(thumbnailKey(longReplaced, 128), Readable.from([Buffer.from('t')]), { contentType: 'image/webp' })
    const abandoned = await storedImage(undefined, "state = 'uploading', width = NULL, created_at = now() - interval '1 day'")

    expect(await worker.sweeper.sweepNow()).toBe(2)
    for (const id of [longReplaced, abandoned]) {
      expect(await storage.get(originalKey(id))).toBeUndefined()
      expect(await storage.get(thumbnailKey(id, 128))).toBeUndefined()
    }
    const rows = await h.query<{ id: string; deleted: boolean }>(
      'SELECT id, deleted_at IS NOT NULL AS deleted FROM images WHERE id = ANY($1)', [[current, justReplaced, longReplaced, abandoned]])
    expect(Object.fromEntries(rows.map((r) => [r.id, r.deleted]))).toEqual({
      [current]: false, [justReplaced]: false, [longReplaced]: true, [abandoned]: true
    })
    for (const id of [current, justReplaced]) expect(await storage.get(originalKey(id))).toBeDefined()
    expect(await worker.sweeper.sweepNow()).toBe(0)
  })
})
