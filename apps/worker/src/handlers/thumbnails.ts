import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import sharp from 'sharp'
import { PermanentError, TransientError, userIdOf, type AnyConsumedMessage } from '@socialnet/broker'
import { originalKey, thumbnailKey } from '@socialnet/storage'
import { FailureCode } from '../errors'
import type { QueueRegistration, WorkerDeps } from './queue-registration'

/**
 * Originals are re-encoded by the api to at most 2048 px a side, so this is a
 * generous bound that still refuses anything a tampered store could hold.
 */
const MAX_ORIGINAL_PIXELS = 4096 * 4096

/**
 * Pixels of the image a `size` square is cut from (fit `cover` scales the
 * short side to `size`), bounded like an original. A thin strip makes it
 * huge: 64 x 262,144 px (16.7 MP) for 512 px is over 1,000 MP, which took two
 * minutes and was not stopped by `timeout()`. The api's aspect limit (1:20)
 * keeps real originals far below (5.2 MP for 512 px).
 */
function coverPixels(width: number, height: number, size: number): number {
  return Math.ceil(size * size * Math.max(width, height) / Math.min(width, height))
}

/** libvips' own words when `timeout()` stops an image: "timeout: 42% complete". */
const TIMED_OUT = /^timeout: /

// A server process: no decoded-image cache growing with traffic.
sharp.cache(false)

/**
 * Makes the square WebP thumbnails of one stored image and marks its row
 * ready. Idempotent: a redelivery rewrites the same objects. An image that
 * was deleted meanwhile is skipped, and thumbnails written for an image the
 * sweeper removed while we worked are deleted again, so none are orphaned.
 */
export async function makeThumbnails(
  deps: Pick<WorkerDeps, 'db' | 'storage' | 'log'>, imageId: string, sizes: number[], timeoutSeconds: number
): Promise<'made' | 'skipped'> {
  const { rows } = await deps.db.query<{ state: string }>(
    'SELECT state FROM images WHERE id = $1 AND deleted_at IS NULL', [imageId])
  if (rows[0]?.state !== 'stored') return 'skipped'
  const original = await deps.storage.get(originalKey(imageId))
  if (!original) {
    // The api writes the original before it marks the row stored, so a stored row without it is not a race
    // unless the image was deleted meanwhile. Otherwise the api and this worker read different stores
    // (each its own STORAGE_DIR): retried in case, then dead-lettered with the reason, never a silent skip.
    const { rowCount } = await deps.db.query('SELECT 1 FROM images WHERE id = $1 AND deleted_at IS NULL', [imageId])
    if (rowCount === 0) return 'skipped'
    throw new TransientError(`the original of image ${imageId} is not in this worker's store (${deps.storage.location}); ` +
      'the api and the worker must share one (the same STORAGE_DIR, or S3 bucket)', { code: FailureCode.THUMBNAIL_ORIGINAL_MISSING })
  }
  // At most a few MB (see MAX_ORIGINAL_PIXELS); one read serves every size.
  const source = await buffer(original.body)

  // Undecodable bytes are reported by the resize below, with the size it failed at.
  const header = await sharp(source).metadata().catch(() => undefined)
  const thumbnails: Record<string, { bytes: number; etag: string }> = {}
  for (const size of sizes) {
    if (header?.width && header.height && coverPixels(header.width, header.height, size) > MAX_ORIGINAL_PIXELS) {
      throw new PermanentError(`the ${size} px thumbnail of ${imageId} (${header.width}x${header.height}) would be cut from a ${coverPixels(header.width, header.height, size)} pixel image`, { code: FailureCode.PERMANENT_FAILURE })
    }
    let data: Buffer
    try {
      data = await sharp(source, { limitInputPixels: MAX_ORIGINAL_PIXELS })
        .timeout({ seconds: timeoutSeconds })
        .resize(size, size, { fit: 'cover', position: 'attention' })
        .webp({ quality: 80 })
        .toBuffer()
    } catch (err) {
      // Retrying cannot fix undecodable bytes, nor make a slow image fast: straight to the dead-letter queue with the reason.
      if (TIMED_OUT.test((err as Error).message)) {
        throw new PermanentError(`the ${size} px thumbnail of ${imageId} took longer than ${timeoutSeconds} s`, { code: FailureCode.THUMBNAIL_TOO_SLOW })
      }
      throw new PermanentError(`cannot make the ${size} px thumbnail of ${imageId}: ${(err as Error).message}`, { code: FailureCode.PERMANENT_FAILURE })
    }
    await deps.storage.put(thumbnailKey(imageId, size), Readable.from([data]), { contentType: 'image/webp' })
    thumbnails[String(size)] = { bytes: data.length, etag: createHash('sha256').update(data).digest('base64url') }
  }

  const updated = await deps.db.query(
    `UPDATE images SET thumbnails_state = 'ready', thumbnails = $2, updated_at = now()
     WHERE id = $1 AND deleted_at IS NULL`,
    [imageId, JSON.stringify(thumbnails)]
  )
  if (updated.rowCount === 0) {
    await Promise.all(sizes.map((size) => deps.storage.delete(thumbnailKey(imageId, size))))
    return 'skipped'
  }
  return 'made'
}

/** The `thumbnails` queue: `image.thumbnails.v1` messages from the api's avatar uploads. */
export function thumbnailsQueue(deps: WorkerDeps): QueueRegistration {
  return {
    queue: 'thumbnails',
    accepts: ['image.thumbnails.v1'],
    // Each message decodes an image: keep a worker's decodes few, scale with more workers.
    prefetch: deps.config.THUMBNAILS_PREFETCH,
    maxAttempts: 5,
    handler: async (message: AnyConsumedMessage) => {
      if (message.type !== 'image.thumbnails.v1') throw new PermanentError(`${message.type} is not a thumbnails message`, { code: FailureCode.PERMANENT_FAILURE })
      const { imageId, sizes } = message.payload
      const started = Date.now()
      const outcome = await makeThumbnails(deps, imageId, sizes, deps.config.THUMBNAIL_TIMEOUT_SECONDS)
      deps.log.info({ imageId, sizes, outcome, attempt: message.attempt }, 'thumbnails')
      if (outcome === 'made') {
        deps.events.emit('image.thumbnails_made', { subject: `image:${imageId}`, userId: userIdOf(message.headers), data: { imageId, sizes, durationMs: Date.now() - started } })
      }
    }
  }
}
