import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { open as openFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import pino from 'pino'
import { FileKvStore } from '../../src/kv/file-store'
import { replayLog } from '../../src/kv/replay'

describe('replayLog across read-chunk boundaries', () => {
  let dir: string
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'kv-replay-')) })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('any chunk size yields the same data, including records larger than a chunk and its headroom', async () => {
    const path = join(dir, 'kv.log')
    const store = await FileKvStore.open({ path, fsync: 'off', compactMinBytes: 1e12, compactRatio: 2, log: pino({ level: 'silent' }) })
    const expected = new Map<string, Buffer>()
    for (let i = 0; i < 400; i++) {
      const key = `key-${i % 150}-${'é'.repeat(i % 5)}`
      // Mostly small values, some bigger than the 64 KiB headroom a chunk keeps for the previous tail.
      const value = randomBytes(i % 50 === 0 ? 100_000 + i : i % 97)
      await store.put(key, value)
      expected.set(key, value)
      if (i % 7 === 0) {
        await store.delete(`key-${(i * 3) % 150}-${'é'.repeat(((i * 3) % 150) % 5)}`)
        expected.delete(`key-${(i * 3) % 150}-${'é'.repeat(((i * 3) % 150) % 5)}`)
      }
    }
    await store.close()
    const size = statSync(path).size
    for (const chunkBytes of [13, 1000, 70_000, 300_000, 16 * 1024 * 1024]) {
      const fh = await openFile(path, 'r')
      try {
        const { data, records, torn } = await replayLog(fh, size, path, chunkBytes)
        expect({ chunkBytes, torn, size: data.size }).toEqual({ chunkBytes, torn: undefined, size: expected.size })
        expect(records).toBeGreaterThan(400)
        for (const [k, v] of expected) expect(data.get(Buffer.from(k))?.equals(v)).toBe(true)
      } finally {
        await fh.close()
      }
    }
  })
})
