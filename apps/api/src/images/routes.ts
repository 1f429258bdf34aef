import { randomUUID } from 'node:crypto'
import { rm, unlink } from 'node:fs/promises'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import multipart from '@fastify/multipart'
import { Gauge } from 'prom-client'
import { THUMBNAIL_SIZES, originalKey, thumbnailKey } from '@socialnet/storage'
import { ErrorBody } from '../plugins/errors'
import { documentedBody } from '../plugins/external/swagger'
import { UserParams } from '../users/schemas'
import { EncodeSlots } from './encode-slots'
import { ImageNotFoundError, MalformedUploadError, MissingImageError, NotMultipartError, ThumbnailNotReadyError, UploadInFlightError } from '../errors'
import { encodeImage, inspectImage, spoolUpload, type ShapeLimits } from './intake'
import { UPLOAD_FORMATS, UPLOAD_FORMAT_NAMES } from './formats'
import { deleteUploading, findCurrentAvatar, findImage, insertUploading, promoteToAvatar, type ImageRow } from './repository'

export interface ImageRoutesOptions {
  publicUrl: string
  uploadMaxBytes: number
  /** Header checks: pixels, longest side, aspect ratio (IMAGE_MAX_PIXELS, IMAGE_MAX_SIDE, IMAGE_MAX_ASPECT). */
  shape: ShapeLimits
  /** Seconds one decode and re-encode may take (IMAGE_TIMEOUT_SECONDS). */
  timeoutSeconds: number
  /** Answer GETs with a redirect to a presigned URL (S3 driver only). */
  s3Redirect: boolean
  /** Folder of this instance's upload temp files (nothing else writes there). */
  spoolDir: string
  /** The folder is this process's own (the default, named after its pid): removed when the server closes, so runs leave none behind. */
  ownSpoolDir?: boolean
  /** Decodes at once; see IMAGE_ENCODE_SLOTS. */
  encodeSlots: number
  /** Extra decodes reserved for images of at most `smallPixels` (IMAGE_SMALL_SLOTS, IMAGE_SMALL_PIXELS). */
  smallSlots: number
  smallPixels: number
}

const ImageReply = Type.Object({
  id: Type.String({ format: 'uuid' }),
  url: Type.String({ format: 'uri' }),
  contentType: Type.String(),
  thumbnails: Type.Object({
    status: Type.Union([Type.Literal('pending'), Type.Literal('ready')], { description: 'pending until the worker has made them' }),
    urls: Type.Record(Type.String(), Type.String({ format: 'uri' }), { description: 'by edge length in pixels' })
  })
})
const ImageQuery = Type.Object({
  size: Type.Optional(Type.Union([Type.Literal('original'), Type.Literal('thumb'), ...THUMBNAIL_SIZES.map((s) => Type.Literal(String(s)))], {
    description: '`thumb` = the 128 px thumbnail; thumbnails are square WebP'
  }))
})
const UploadLimits = Type.Object({
  maxBytes: Type.Integer({ description: 'largest file accepted (UPLOAD_MAX_BYTES); a bigger one is refused with 413' }),
  formats: Type.Array(Type.Object({ name: Type.String(), mediaType: Type.String() }), { description: 'what the bytes may be; anything else is 415' }),
  maxPixels: Type.Integer({ description: 'width x height at most (IMAGE_MAX_PIXELS); more is 422' }),
  maxSide: Type.Integer({ description: 'longest side at most, in pixels (IMAGE_MAX_SIDE); longer is 422' }),
  maxAspect: Type.Number({ description: 'long side / short side at most (IMAGE_MAX_ASPECT); thinner is 422' })
})
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Images never change under an id, so caches may keep them forever. */
const IMMUTABLE = 'public, max-age=31536000, immutable'

/** True when an If-None-Match header names `etag` (or is `*`); weak or strong, as RFC 9110 says for GET. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false
  if (header.trim() === '*') return true
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)
}

/**
 * Avatars: `PUT /v1/users/{id}/avatar` (owner only) takes a multipart upload,
 * `GET /v1/users/{id}/avatar` says where it is, and `GET /v1/images/{id}`
 * serves the bytes. See docs/images.md for the pipeline and its limits.
 */
const imageRoutes: FastifyPluginAsyncTypebox<ImageRoutesOptions> = async (fastify, opts) => {
  const base = opts.publicUrl.replace(/\/+$/, '')
  const { spoolDir } = opts
  if (opts.ownSpoolDir) fastify.addHook('onClose', async () => { await rm(spoolDir, { recursive: true, force: true }) })
  const slots = new EncodeSlots(opts.encodeSlots, opts.smallSlots)
  // Users with an upload being taken in or processed on this replica: one each, so no
  // account holds more than one place in the encode queues (see docs/images.md).
  const uploading = new Set<string>()
  // Registered by their constructors, read on each scrape.
  new Gauge({ // eslint-disable-line no-new
    name: 'image_uploads_in_progress',
    help: 'avatar uploads being taken in or processed on this replica (at most one per user)',
    registers: [fastify.metrics.registry],
    collect() { this.set(uploading.size) }
  })
  new Gauge({ // eslint-disable-line no-new
    name: 'image_encode_queued',
    help: 'avatar uploads waiting for an encode slot, per lane (small images have slots of their own)',
    labelNames: ['lane'],
    registers: [fastify.metrics.registry],
    collect() {
      this.set({ lane: 'small' }, slots.queued('small'))
      this.set({ lane: 'large' }, slots.queued('large'))
    }
  })

  // One file, a few small fields; the size limit is the upload limit itself.
  await fastify.register(multipart, {
    limits: { fileSize: opts.uploadMaxBytes, files: 1, fields: 10, fieldSize: 1024, parts: 20, headerPairs: 20 },
    throwFileSizeLimit: true
  })

  const describe = (image: Pick<ImageRow, 'id' | 'contentType' | 'thumbnailsState'>) => ({
    id: image.id,
    url: `${base}/v1/images/${image.id}`,
    contentType: image.contentType,
    thumbnails: {
      status: image.thumbnailsState,
      urls: Object.fromEntries(THUMBNAIL_SIZES.map((s) => [String(s), `${base}/v1/images/${image.id}?size=${s}`]))
    }
  })

  // Anyone may ask (the same few bytes for everyone, under the API-wide rate limit): the console
  // checks a picked file against them before uploading it. The upload route enforces them anyway.
  const limits = {
    maxBytes: opts.uploadMaxBytes,
    formats: UPLOAD_FORMATS.map(({ name, mediaType }) => ({ name, mediaType })),
    ...opts.shape
  }
  fastify.get('/v1/images/limits', {
    schema: {
      tags: ['images'],
      summary: 'What an avatar upload may be: its size, formats and shape',
      response: { 200: UploadLimits }
    }
  }, async (_request, reply) => {
    // They change only when the api restarts with other settings.
    void reply.header('cache-control', 'public, max-age=300')
    return limits
  })

  fastify.put('/v1/users/:id/avatar', {
    onRequest: [fastify.authenticate, fastify.requireOwner],
    config: documentedBody(Type.Object({
      image: Type.Unsafe({ type: 'string', format: 'binary', description: `${UPLOAD_FORMAT_NAMES}; the bytes decide, not the filename` })
    })),
    schema: {
      tags: ['images'],
      summary: 'Upload a new avatar (multipart field "image"); the previous one is removed later',
      security: [{ bearerAuth: [] }],
      consumes: ['multipart/form-data'],
      params: UserParams,
      response: { 201: ImageReply, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 413: ErrorBody, 415: ErrorBody, 422: ErrorBody, 429: ErrorBody, 503: ErrorBody }
    }
  }, async (request, reply) => {
    if (!request.isMultipart()) throw new NotMultipartError()
    const userId = request.params.id
    if (uploading.has(userId)) {
      const err = new UploadInFlightError()
      void reply.header('retry-after', String(err.retryAfterSeconds))
      throw err
    }
    uploading.add(userId)
    try {
      const body = describe(await storeAvatar(request, userId))
      return reply.code(201).header('location', body.url).send(body)
    } finally {
      uploading.delete(userId)
    }
  })

  /** Spools, checks and encodes one upload (its user holds their one place in `uploading`). */
  async function storeAvatar(request: FastifyRequest, ownerId: string) {
    // Only the request is read here, so an error without a status (no boundary,
    // a broken header) is the client's malformed body, not a server fault.
    const part = await request.file().catch((err: Error & { statusCode?: number }) => {
      throw err.statusCode === undefined ? new MalformedUploadError(err.message) : err
    })
    if (!part || part.fieldname !== 'image') {
      part?.file.resume()
      throw new MissingImageError()
    }
    // The original filename and declared type are ignored on purpose: the bytes decide.
    const path = await spoolUpload(part, spoolDir, opts.uploadMaxBytes)
    try {
      // Header checks before the queue: a refused image never holds a place in it. Its pixels pick the lane.
      const kind = await inspectImage(path, opts.shape)
      return await slots.run(kind.pixels <= opts.smallPixels ? 'small' : 'large', async () => {
        const id = randomUUID()
        await insertUploading(fastify.db, id, ownerId, kind.contentType)
        try {
          const encoded = await encodeImage(path, kind, { maxPixels: opts.shape.maxPixels, timeoutSeconds: opts.timeoutSeconds }, fastify.storage, originalKey(id))
          await promoteToAvatar(fastify.db, { id, ownerId, ...encoded }, [...THUMBNAIL_SIZES])
          request.log.info({ imageId: id, bytes: encoded.bytes, width: encoded.width, height: encoded.height }, 'avatar stored')
          fastify.events.emit('image.stored', { subject: `image:${id}`, userId: ownerId, data: { imageId: id, bytes: encoded.bytes, contentType: kind.contentType } })
          return { id, contentType: kind.contentType, thumbnailsState: 'pending' as const }
        } catch (err) {
          // The object is already deleted by encodeImage; a row left behind (db down) is the sweeper's.
          await deleteUploading(fastify.db, id).catch(() => {})
          throw err
        }
      })
    } finally {
      await unlink(path).catch(() => {})
    }
  }

  fastify.get('/v1/images/:id', {
    schema: {
      tags: ['images'],
      summary: 'Image bytes (immutable, cacheable forever); ?size=thumb|128|512 for thumbnails',
      params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
      querystring: ImageQuery,
      response: {
        // Content per status: the image is bytes, errors are JSON.
        200: { description: 'the image', content: Object.fromEntries(['image/jpeg', 'image/png', 'image/webp'].map((type) => [type, { schema: Type.Unsafe({ type: 'string', format: 'binary' }) }])) },
        302: { description: 'STORAGE=s3 with IMAGE_S3_REDIRECT: go to a presigned URL' },
        304: { description: 'If-None-Match matched' },
        400: ErrorBody,
        404: ErrorBody
      }
    }
  }, async (request, reply) => {
    const { id } = request.params
    const image = UUID.test(id) ? await findImage(fastify.db, id) : undefined
    // Misses must not be cached: a thumbnail appears later, and an id may be one being uploaded.
    void reply.header('cache-control', 'no-store')
    if (!image) throw new ImageNotFoundError()
    const size = request.query.size ?? 'original'
    let key = originalKey(id)
    let etag = image.etag
    let contentType = image.contentType
    if (size !== 'original') {
      const px = size === 'thumb' ? THUMBNAIL_SIZES[0] : Number(size)
      const thumb = image.thumbnails[String(px)]
      if (image.thumbnailsState !== 'ready' || !thumb) {
        void reply.header('retry-after', '2')
        throw new ThumbnailNotReadyError()
      }
      key = thumbnailKey(id, px)
      etag = thumb.etag
      contentType = 'image/webp'
    }
    const quoted = `"${etag}"`
    void reply.headers({ etag: quoted, 'cache-control': IMMUTABLE, 'x-content-type-options': 'nosniff' })
    if (matchesEtag(request.headers['if-none-match'], quoted)) return reply.code(304).send()

    if (opts.s3Redirect && fastify.storage.driver === 's3') {
      const location = await fastify.storage.presignGet(key, { expiresInSeconds: 3600, contentType })
      // The signed URL expires; the redirect may be cached only for part of its life.
      return reply.code(302).headers({ location: location!, 'cache-control': 'public, max-age=1800' }).send()
    }
    const object = await fastify.storage.get(key)
    if (!object) {
      void reply.header('cache-control', 'no-store')
      throw new ImageNotFoundError()
    }
    return reply.type(contentType).header('content-length', String(object.size)).send(object.body)
  })

  fastify.get('/v1/users/:id/avatar', {
    schema: {
      tags: ['images'],
      summary: 'Where the user\'s current avatar and its thumbnails are',
      params: UserParams,
      response: { 200: ImageReply, 400: ErrorBody, 404: ErrorBody }
    }
  }, async (request) => {
    const image = await findCurrentAvatar(fastify.db, request.params.id)
    if (!image) throw new ImageNotFoundError()
    return describe(image)
  })
}

export default imageRoutes
