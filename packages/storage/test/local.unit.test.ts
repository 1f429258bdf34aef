import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { LocalStorage, createStorage } from '../src'
import { failingSource, storageContract } from './contract'

let dir: string
let storage: LocalStorage

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'socialnet-storage-'))
  storage = new LocalStorage(join(dir, 'objects'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('local driver', () => {
  storageContract(() => storage)

  test('objects live under the root only and a failed put leaves no temp file', async () => {
    await expect(storage.put('tidy/x', failingSource(200_000), { contentType: 'image/png' })).rejects.toThrow()
    await storage.put('tidy/y', Readable.from([Buffer.from('y')]), { contentType: 'image/png' })
    expect(readdirSync(join(dir, 'objects', 'tidy'))).toEqual(['y'])
    expect(readdirSync(dir)).toEqual(['objects'])
  })

  test('deleting the last object of a folder removes the folder', async () => {
    await storage.put('gone/only', Readable.from([Buffer.from('1')]), { contentType: 'image/png' })
    await storage.delete('gone/only')
    expect(readdirSync(join(dir, 'objects'))).not.toContain('gone')
  })

  test('check creates the root and presigning is not offered', async () => {
    const fresh = createStorage({ STORAGE: 'local', STORAGE_DIR: join(dir, 'fresh'), S3_REGION: 'us-east-1' })
    await fresh.check()
    expect(readdirSync(dir)).toContain('fresh')
    expect(await fresh.presignGet('a', { expiresInSeconds: 60 })).toBeUndefined()
  })
})

describe('configuration', () => {
  test('STORAGE=s3 without a bucket is a config error', () => {
    expect(() => createStorage({ STORAGE: 's3', STORAGE_DIR: 'x', S3_REGION: 'us-east-1' }))
      .toThrow('STORAGE=s3 needs S3_BUCKET')
  })
  test('half a credential pair is a config error', () => {
    expect(() => createStorage({ STORAGE: 's3', STORAGE_DIR: 'x', S3_REGION: 'us-east-1', S3_BUCKET: 'abc', S3_ACCESS_KEY: 'k' }))
      .toThrow('S3_ACCESS_KEY and S3_SECRET_KEY must be set together')
  })
})
