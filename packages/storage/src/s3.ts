import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  NoSuchKey,
  S3Client,
  S3ServiceException
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { assertValidKey, type ObjectStorage, type PutResult, type StoredObject } from './storage'

/** Connection settings for an S3-compatible bucket (AWS, MinIO, s3rver...). */
export interface S3StorageOptions {
  bucket: string
  /** Unset for AWS itself; MinIO and friends need their URL. */
  endpoint?: string
  region: string
  /** Unset = the SDK's default credential chain (instance role, env, profile). */
  accessKeyId?: string
  secretAccessKey?: string
}

/** Multipart part size: the floor S3 allows; one upload buffers at most PART_SIZE * QUEUE_SIZE. */
const PART_SIZE = 5 * 1024 * 1024
const QUEUE_SIZE = 2

function isNotFound(err: unknown): boolean {
  return err instanceof NoSuchKey || (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404)
}

/**
 * Objects in one S3-compatible bucket. Puts stream through lib-storage's
 * multipart upload (bounded memory; a failed upload is aborted, leaving no
 * parts behind), and S3 itself makes an object visible only once complete.
 */
export class S3Storage implements ObjectStorage {
  readonly driver = 's3' as const
  private readonly client: S3Client
  private readonly bucket: string
  readonly location: string
  private closed = false

  constructor(opts: S3StorageOptions) {
    this.bucket = opts.bucket
    this.location = `s3://${opts.bucket}${opts.endpoint ? ` at ${opts.endpoint}` : ''}`
    this.client = new S3Client({
      region: opts.region,
      endpoint: opts.endpoint,
      // MinIO and most self-hosted servers serve buckets by path, not by DNS name.
      forcePathStyle: true,
      credentials: opts.accessKeyId && opts.secretAccessKey
        ? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey }
        : undefined,
      // Newer SDKs add CRC trailers (aws-chunked bodies) to every upload; many
      // S3-compatible servers do not understand them, so only send checksums an
      // operation requires.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 5000, requestTimeout: 60_000 },
      maxAttempts: 3
    })
  }

  async put(key: string, body: Readable, opts: { contentType: string }): Promise<PutResult> {
    assertValidKey(key)
    let size = 0
    const counted = new Transform({
      transform(chunk: Buffer, _enc, done) { size += chunk.length; done(null, chunk) }
    })
    // pipeline carries a source failure into `counted`, which fails the upload.
    const piping = pipeline(body, counted)
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: counted, ContentType: opts.contentType },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false
    })
    try {
      await Promise.all([upload.done(), piping])
    } catch (err) {
      // Whichever side failed, stop the other: no half-read source, no open multipart upload.
      counted.destroy()
      body.destroy()
      await upload.abort().catch(() => {})
      throw err
    }
    return { size }
  }

  async get(key: string): Promise<StoredObject | undefined> {
    assertValidKey(key)
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }))
      if (!(out.Body instanceof Readable)) throw new Error('S3 returned a body that is not a Node stream')
      return { body: out.Body, size: out.ContentLength ?? 0, contentType: out.ContentType }
    } catch (err) {
      if (isNotFound(err)) return undefined
      throw err
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key)
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }))
    } catch (err) {
      if (!isNotFound(err)) throw err
    }
  }

  async presignGet(key: string, opts: { expiresInSeconds: number; contentType?: string }): Promise<string> {
    assertValidKey(key)
    return getSignedUrl(this.client, new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseContentType: opts.contentType
    }), { expiresIn: opts.expiresInSeconds })
  }

  async check(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }))
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.client.destroy()
  }
}
