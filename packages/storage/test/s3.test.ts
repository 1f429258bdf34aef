import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import S3rver from 's3rver'
import { createStorage } from '../src'
import { S3Storage } from '../src/s3'
import { storageContract } from './contract'

// A real S3-compatible server (s3rver: the S3 REST API over a local folder) on a
// free loopback port; the driver talks to it through the AWS SDK exactly as it
// would to MinIO or AWS.
let dir: string
let server: S3rver
let endpoint: string
let storage: S3Storage

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'socialnet-s3-'))
  server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: 'avatars', configs: [] }] })
  const { port } = await server.run()
  endpoint = `http://127.0.0.1:${port}`
  storage = createStorage({
    STORAGE: 's3',
    STORAGE_DIR: 'unused',
    S3_ENDPOINT: endpoint,
    S3_REGION: 'us-east-1',
    S3_BUCKET: 'avatars',
    S3_ACCESS_KEY: 'S3RVER',
    S3_SECRET_KEY: 'S3RVER'
  }) as S3Storage
})

afterAll(async () => {
  await storage.close()
  await storage.close()
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('s3 driver against s3rver', () => {
  storageContract(() => storage)

  test('the stored object keeps its content type', async () => {
    await storage.put('typed/a.webp', Readable.from([Buffer.from('RIFF')]), { contentType: 'image/webp' })
    expect((await storage.get('typed/a.webp'))?.contentType).toBe('image/webp')
  })

  test('a presigned URL serves the object to a plain HTTP client', async () => {
    await storage.put('signed/obj', Readable.from([Buffer.from('presigned bytes')]), { contentType: 'image/png' })
    const url = await storage.presignGet('signed/obj', { expiresInSeconds: 60, contentType: 'image/png' })
    expect(url.startsWith(`${endpoint}/avatars/signed/obj?`)).toBe(true)
    const res = await fetch(url)
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('presigned bytes')
  })

  test('check passes for the bucket and fails for a missing one', async () => {
    await expect(storage.check()).resolves.toBeUndefined()
    const missing = new S3Storage({ bucket: 'no-such-bucket', endpoint, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' })
    try {
      await expect(missing.check()).rejects.toThrow()
    } finally {
      await missing.close()
    }
  })
})
