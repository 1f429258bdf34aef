import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { open as openFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import pino from 'pino'
import { FileKvStore } from '../../src/kv/file-store'
import { replayLog } from '../../src/kv/replay'
import { MAGIC_V1, MAGIC_V2 } from '../../src/kv/record-format'

interface Log { path: string; size: number; expected: Map<string, Buffer> }

describe('replayLog across read-chunk boundaries', () => {
  let dir: string
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'kv-replay-')) })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  /**
   * Writes a log of puts and deletes through the store; every `bigEvery`th put (none for 0) has a
   * value of 100 kB. `together` writes go out at once, so each group commit,
   * and in v2 each batch, holds that many. `v1`: the file starts as a v1 log, which the store
   * appends to in v1.
   */
  async function writeLog(name: string, bigEvery: number, { together = 1, v1 = false } = {}): Promise<Log> {
    const path = join(dir, name)
    if (v1) writeFileSync(path, MAGIC_V1)
    const store = await FileKvStore.open({ path, fsync: 'off', compactMinBytes: 1e12, compactRatio: 2, log: pino({ level: 'silent' }) })
    const expected = new Map<string, Buffer>()
    const group: Array<Promise<void>> = []
    for (let i = 0; i < 400; i++) {
      const key = `key-${i % 150}-${'é'.repeat(i % 5)}`
      const value = randomBytes(bigEvery > 0 && i % bigEvery === 0 ? 100_000 + i : i % 97)
      group.push(store.put(key, value))
      expected.set(key, value)
      if (i % 7 === 0) {
        group.push(store.delete(`key-${(i * 3) % 150}-${'é'.repeat(((i * 3) % 150) % 5)}`))
        expected.delete(`key-${(i * 3) % 150}-${'é'.repeat(((i * 3) % 150) % 5)}`)
      }
      if (group.length >= together) await Promise.all(group.splice(0))
    }
    await Promise.all(group)
    await store.close()
    expect(readFileSync(path).subarray(0, 8)).toEqual(v1 ? MAGIC_V1 : MAGIC_V2)
    return { path, size: statSync(path).size, expected }
  }

  async function expectReplay(log: Log, chunkBytes: number): Promise<void> {
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

  test('any chunk size yields the same data, including records larger than a chunk', async () => {
    // 100 kB values every 50th put, read in chunks smaller and larger than them.
    const withBigValues = await writeLog('big.log', 50)
    for (const chunkBytes of [1000, 70_000, 300_000, 16 * 1024 * 1024]) await expectReplay(withBigValues, chunkBytes)
    // Chunks smaller than a record header split every header; on small values only, since a
    // 100 kB value read 13 bytes at a time re-copies its growing tail ~7,700 times (a minute).
    const smallValues = await writeLog('small.log', 0)
    for (const chunkBytes of [13, 1000]) await expectReplay(smallValues, chunkBytes)
  })

  test('v2 batches of many records, larger than the 1 MiB headroom, cross chunks whole', async () => {
    // 40 writes per group commit, every 10th with a 100 kB value: batches of about 0.4 MB and, with
    // every 2nd big, of 2 MB, read in chunks smaller and larger than them. (Not 1000-byte chunks
    // for the 2 MB batches: each chunk re-copies the growing tail, thousands of times per batch.)
    const batches = await writeLog('batches.log', 10, { together: 40 })
    for (const chunkBytes of [1000, 70_000, 300_000, 16 * 1024 * 1024]) await expectReplay(batches, chunkBytes)
    const bigBatches = await writeLog('big-batches.log', 2, { together: 40 })
    for (const chunkBytes of [70_000, 300_000, 16 * 1024 * 1024]) await expectReplay(bigBatches, chunkBytes)
  })

  test('a v1 log yields the same data at any chunk size', async () => {
    const withBigValues = await writeLog('v1-big.log', 50, { v1: true })
    for (const chunkBytes of [1000, 70_000, 16 * 1024 * 1024]) await expectReplay(withBigValues, chunkBytes)
    const smallValues = await writeLog('v1-small.log', 0, { v1: true, together: 20 })
    for (const chunkBytes of [13, 1000]) await expectReplay(smallValues, chunkBytes)
  })
})
