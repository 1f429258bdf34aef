import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import type { ObjectStorage } from '../src'

/** A source that yields `bytes` in 64 KiB chunks, then fails instead of ending. */
export function failingSource(bytes: number): Readable {
  let sent = 0
  return new Readable({
    read() {
      if (sent >= bytes) {
        this.destroy(new Error('client went away'))
        return
      }
      const chunk = randomBytes(Math.min(65536, bytes - sent))
      sent += chunk.length
      this.push(chunk)
    }
  })
}

/** Behaviour every driver must show; `storage()` is called inside each test. */
export function storageContract(storage: () => ObjectStorage): void {
  test('a put streams the bytes in and a get streams them back with the size', async () => {
    const data = randomBytes(1024 * 1024 + 17)
    const put = await storage().put('contract/round-trip', Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { contentType: 'image/png' })
    expect(put.size).toBe(data.length)
    const got = await storage().get('contract/round-trip')
    expect(got?.size).toBe(data.length)
    expect((await buffer(got!.body)).equals(data)).toBe(true)
  })

  test('an object bigger than one multipart part round-trips', async () => {
    const data = randomBytes(12 * 1024 * 1024 + 3)
    const put = await storage().put('contract/big.bin', Readable.from(chunks(data)), { contentType: 'application/octet-stream' })
    expect(put.size).toBe(data.length)
    const got = await storage().get('contract/big.bin')
    expect((await buffer(got!.body)).equals(data)).toBe(true)
  })

  test('a put replaces the object under the same key', async () => {
    await storage().put('contract/replace', Readable.from([Buffer.from('old')]), { contentType: 'text/plain' })
    await storage().put('contract/replace', Readable.from([Buffer.from('new!')]), { contentType: 'text/plain' })
    const got = await storage().get('contract/replace')
    expect((await buffer(got!.body)).toString()).toBe('new!')
  })

  test('an unknown key reads as undefined', async () => {
    expect(await storage().get('contract/never-written')).toBeUndefined()
  })

  test('delete removes the object and deleting again is fine', async () => {
    await storage().put('contract/doomed', Readable.from([Buffer.from('x')]), { contentType: 'text/plain' })
    await storage().delete('contract/doomed')
    expect(await storage().get('contract/doomed')).toBeUndefined()
    await expect(storage().delete('contract/doomed')).resolves.toBeUndefined()
  })

  test('a source that fails mid-way fails the put and leaves nothing readable', async () => {
    await expect(storage().put('contract/half', failingSource(6 * 1024 * 1024), { contentType: 'image/png' }))
      .rejects.toThrow(/client went away/)
    expect(await storage().get('contract/half')).toBeUndefined()
  })

  test.each(['../escape', '/etc/passwd', 'a/../../b', '.tmp-abc', 'a//b', '', 'a\\b', 'a/./b', 'ünï'])(
    'the key %j is refused', async (key) => {
      await expect(storage().put(key, Readable.from([Buffer.from('x')]), { contentType: 'text/plain' }))
        .rejects.toMatchObject({ code: 'STORAGE_INVALID_KEY' })
      await expect(storage().get(key)).rejects.toMatchObject({ code: 'STORAGE_INVALID_KEY' })
      await expect(storage().delete(key)).rejects.toMatchObject({ code: 'STORAGE_INVALID_KEY' })
    })
}

function * chunks(data: Buffer, size = 256 * 1024): Generator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size)
}
