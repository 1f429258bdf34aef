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

  /** Writes a log of puts and deletes; every `bigEvery`th put (none for 0) has a value over the 64 KiB chunk headroom. */
  async function writeLog(name: string, bigEvery: number): Promise<{ path: string; size: number; expected: Map<string, Buffer> }> {
    const path = join(dir, name)
    const store = await FileKvStore.open({ path, fsync: 'off', compactMinBytes: 1e12, compactRatio: 2, log: pino({ level: 'silent' }) })
    const expected = new Map<string, Buffer>()
    for (let i = 0; i < 400; i++) {
      const key = `key-${i % 150}-${'é'.repeat(i % 5)}`
      const value = randomBytes(bigEvery > 0 && i % bigEvery === 0 ? 100_000 + i : i % 97)
      await store.put(key, value)
      expected.set(key, value)
      if (i % 7 === 0) {
        await store.delete(`key-${(i * 3) % 150}-${'é'.repeat(((i * 3) % 150) % 5)}`)
        expected.delete(`key-${(i * 3) % 150}-${'é'.repeat(((i * 3) % 150) % 5)}`)
      }
    }
    await store.close()
    return { path, size: statSync(path).size, expected }
  }

  async function expectReplay(log: { path: string; size: number; expected: Map<string, Buffer> }, chunkBytes: number): Promise<void> {
    const fh = await openFile(log.path, 'r')
    try {
      const { data, records, torn } = await replayLog(fh, log.size, log.path, chunkBytes)
      expect({ chunkBytes, torn, size: data.size }).toEqual({ chunkBytes, torn: undefined, size: log.expected.size })
      expect(records).toBeGreaterThan(400)
      for (const [k, v] of log.expected) expect(data.get(Buffer.from(k))?.equals(v)).toBe(true)
    } finally {
      await fh.close()
    }
  }

  test('any chunk size yields the same data, including records larger than a chunk and its headroom', async () => {
    // Values over the 64 KiB headroom every 50th put, read in chunks smaller and larger than them.
    const withBigValues = await writeLog('big.log', 50)
    for (const chunkBytes of [1000, 70_000, 300_000, 16 * 1024 * 1024]) await expectReplay(withBigValues, chunkBytes)
    // Chunks smaller than a record header split every header; on small values only, since a
    // 100 kB value read 13 bytes at a time re-copies its growing tail ~7,700 times (a minute).
    const smallValues = await writeLog('small.log', 0)
    for (const chunkBytes of [13, 1000]) await expectReplay(smallValues, chunkBytes)
  })
})
