import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, open, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises'
import { dirname, resolve, sep } from 'node:path'
import { randomBytes } from 'node:crypto'
import { pipeline } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import { assertValidKey, InvalidKeyError, type ObjectStorage, type PutResult, type StoredObject } from './storage'

function isErrno(err: unknown, ...codes: string[]): boolean {
  return codes.includes((err as NodeJS.ErrnoException).code ?? '')
}

/**
 * Creates a new file, making its folder first. A delete tidying the same folder
 * may remove it between the two steps, hence the few retries.
 */
async function openCreating(path: string): Promise<FileHandle> {
  for (let attempt = 1; ; attempt++) {
    await mkdir(dirname(path), { recursive: true })
    try {
      return await open(path, 'wx')
    } catch (err) {
      if (!isErrno(err, 'ENOENT') || attempt >= 3) throw err
    }
  }
}

/**
 * Objects as files under one root directory. A put streams into a hidden temp
 * file beside the target, fsyncs it and renames it over the target, so readers
 * see the old object or the new one, never half of one, and a crash leaves at
 * most a `.tmp-*` file (which no key can name).
 */
export class LocalStorage implements ObjectStorage {
  readonly driver = 'local' as const
  private readonly root: string
  readonly location: string

  constructor(root: string) {
    this.root = resolve(root)
    this.location = this.root
  }

  /** Maps a key to its file; the prefix check is a second guard behind the key pattern. */
  private pathOf(key: string): string {
    assertValidKey(key)
    const path = resolve(this.root, key)
    if (!path.startsWith(this.root + sep)) throw new InvalidKeyError(`storage key escapes the store: ${key}`)
    return path
  }

  async put(key: string, body: Readable, _opts: { contentType: string }): Promise<PutResult> {
    const path = this.pathOf(key)
    const tmp = `${dirname(path)}${sep}.tmp-${randomBytes(8).toString('hex')}`
    let handle: FileHandle
    try {
      handle = await openCreating(tmp)
    } catch (err) {
      body.destroy()
      throw err
    }
    try {
      // flush: fsync before the stream closes its file. Durable before visible:
      // the rename must not publish bytes that are still only in the page cache.
      const file = createWriteStream('', { fd: handle, flush: true })
      await pipeline(body, file)
      await rename(tmp, path)
      return { size: file.bytesWritten }
    } catch (err) {
      await handle.close().catch(() => {})
      await unlink(tmp).catch(() => {})
      throw err
    }
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const path = this.pathOf(key)
    let handle
    try {
      handle = await open(path, 'r')
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined
      throw err
    }
    try {
      const { size } = await handle.stat()
      // The stream owns the handle from here and closes it when done or destroyed.
      return { body: createReadStream('', { fd: handle, autoClose: true }), size, contentType: undefined }
    } catch (err) {
      await handle.close()
      throw err
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key)
    try {
      await unlink(path)
    } catch (err) {
      if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err
    }
    // Tidy the key's folder once its last object is gone; a concurrent put recreates it.
    const dir = dirname(path)
    if (dir !== this.root) await rmdir(dir).catch(() => {})
  }

  async presignGet(): Promise<undefined> {
    return undefined
  }

  async check(): Promise<void> {
    await mkdir(this.root, { recursive: true })
    const info = await stat(this.root)
    if (!info.isDirectory()) throw new Error(`${this.root} is not a directory`)
  }

  async close(): Promise<void> {}
}
