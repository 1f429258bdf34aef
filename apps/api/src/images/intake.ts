import { createHash, randomUUID } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import sharp, { type Metadata } from 'sharp'
import type { MultipartFile } from '@fastify/multipart'
import type { ObjectStorage } from '@socialnet/storage'
import {
  CorruptImageError, ImageBadAspectError, ImageTooLargeError, ImageTooSlowError, ImageTooWideError, MalformedUploadError, NotAnImageError, TooManyPixelsError
} from '../errors'
import { UPLOAD_FORMATS, type StoredFormat } from './formats'

/** Largest edge of the stored original; avatars are never shown bigger. */
export const MAX_EDGE = 2048

/** Input formats we decode (by their bytes), and what each is stored as. SVG and others are refused. */
const OUTPUT_FOR = new Map<string, StoredFormat>(UPLOAD_FORMATS.map((f) => [f.decodedAs, f.storedAs]))

export interface Inspected {
  output: StoredFormat
  contentType: string
  /** width x height from the header: what decoding will cost. */
  pixels: number
}

/** What an upload may be, judged from its header alone. */
export interface ShapeLimits {
  maxPixels: number
  /** Longest side accepted, in pixels. */
  maxSide: number
  /** Long side / short side accepted. */
  maxAspect: number
}

export interface Encoded {
  bytes: number
  etag: string
  width: number
  height: number
}

/**
 * Streams the uploaded file part to a temp file, never holding it in memory.
 * @fastify/multipart does not fail the stream when `fileSize` is hit: busboy
 * ends it early with `truncated` set (and drains the rest of the request
 * itself), so the flag is what tells a cut-off upload from a complete one.
 */
export async function spoolUpload(part: MultipartFile, dir: string, maxBytes: number): Promise<string> {
  await mkdir(dir, { recursive: true })
  const path = join(dir, `upload-${randomUUID()}`)
  try {
    await pipeline(part.file, createWriteStream(path, { flags: 'wx' }))
  } catch (err) {
    await unlink(path).catch(() => {})
    if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw new ImageTooLargeError(maxBytes)
    // Busboy's parse errors (body cut before the closing boundary, ...) carry no
    // status; the side that failed tells the client's 400 from our disk's 500.
    if (err === part.file.errored && (err as { statusCode?: number }).statusCode === undefined) {
      throw new MalformedUploadError((err as Error).message)
    }
    throw err
  }
  if (part.file.truncated) {
    await unlink(path).catch(() => {})
    throw new ImageTooLargeError(maxBytes)
  }
  return path
}

function kindOf(meta: Metadata): string | undefined {
  if (meta.format === 'heif') return meta.compression === 'av1' ? 'avif' : undefined
  return meta.format
}

/**
 * Decides the type and judges the shape from the bytes (the header only, so
 * this is cheap and a decompression bomb or a 1 x 39,000,000 strip is refused
 * before a single pixel is decoded). The file name and the declared
 * Content-Type are never consulted.
 */
export async function inspectImage(path: string, limits: ShapeLimits): Promise<Inspected> {
  let meta: Metadata
  try {
    meta = await sharp(path).metadata()
  } catch {
    throw new NotAnImageError('unrecognised data')
  }
  const kind = kindOf(meta)
  const output = kind ? OUTPUT_FOR.get(kind) : undefined
  if (!output) throw new NotAnImageError(meta.format ?? 'unknown format')
  const width = meta.width ?? 0
  const height = meta.height ?? 0
  if (width === 0 || height === 0) throw new CorruptImageError()
  if (width * height > limits.maxPixels) throw new TooManyPixelsError(width, height, limits.maxPixels)
  if (Math.max(width, height) > limits.maxSide) throw new ImageTooWideError(width, height, limits.maxSide)
  // Very thin images are slow for their pixel count (libvips works in strips of rows) and no avatar is one.
  if (Math.max(width, height) > Math.min(width, height) * limits.maxAspect) throw new ImageBadAspectError(width, height, limits.maxAspect)
  return { output, contentType: `image/${output}`, pixels: width * height }
}

/** libvips' own words when `timeout()` stops an image: "timeout: 42% complete". */
const TIMED_OUT = /^timeout: /

/**
 * Re-encodes the image into storage: orientation applied, metadata (EXIF with
 * GPS position, XMP, comments) and any bytes after the image dropped, bounded
 * to MAX_EDGE. The output streams through a SHA-256 (the ETag) into storage.
 * `limitInputPixels` repeats the pixel check inside libvips in case a header
 * lied about the size; `timeoutSeconds` stops an image that holds its slot
 * too long whatever the reason (a pathological encoding the header cannot show).
 */
export async function encodeImage(
  path: string, kind: Inspected, limits: { maxPixels: number; timeoutSeconds: number }, storage: ObjectStorage, key: string
): Promise<Encoded> {
  let decodeError: Error | undefined
  let info: { width: number; height: number } | undefined
  const image = sharp(path, { limitInputPixels: limits.maxPixels, sequentialRead: true, failOn: 'error' })
    .timeout({ seconds: limits.timeoutSeconds })
    .rotate()
    .resize({ width: MAX_EDGE, height: MAX_EDGE, fit: 'inside', withoutEnlargement: true })
  if (kind.output === 'jpeg') image.jpeg({ quality: 85 }) // not mozjpeg: ~8x slower for a few % smaller files
  else if (kind.output === 'webp') image.webp({ quality: 85 })
  else image.png({ compressionLevel: 9, adaptiveFiltering: true })
  image.on('info', (i: { width: number; height: number }) => { info = i })
  image.on('error', (err: Error) => { decodeError = err })

  const hash = createHash('sha256')
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, done) { hash.update(chunk); done(null, chunk) }
  })
  const encoded = pipeline(image, hashing)
  try {
    const [{ size }] = await Promise.all([storage.put(key, hashing, { contentType: kind.contentType }), encoded])
    if (!info) throw new CorruptImageError()
    return { bytes: size, etag: hash.digest('base64url'), width: info.width, height: info.height }
  } catch (err) {
    // Whichever side failed, stop the other so no decode keeps running for nothing.
    image.destroy()
    hashing.destroy()
    await storage.delete(key).catch(() => {})
    if (decodeError && TIMED_OUT.test(decodeError.message)) throw new ImageTooSlowError(limits.timeoutSeconds)
    if (decodeError) throw new CorruptImageError()
    throw err
  }
}
