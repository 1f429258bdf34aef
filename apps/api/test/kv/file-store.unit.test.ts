import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import pino from 'pino'
import { FileKvStore, type FileKvStoreOptions } from '../../src/kv/file-store'
import { KvLogCorruptError } from '../../src/kv/store'
import { KvFullError } from '../../src/errors'
import { encodeRecord, OP_PUT } from '../../src/kv/record-format'
import * as directory from '../../src/kv/sync-directory'
import type { KeyTable } from '../../src/kv/key-table'

/** A logger that remembers what it was told, so tests can see the torn-tail warning. */
function recordingLogger() {
  const lines: Array<{ level: number; msg: string }> = []
  const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s)) } })
  return { log, lines }
}

describe('FileKvStore', () => {
  let dir: string
  let path: string
  const open = (extra: Partial<FileKvStoreOptions> = {}) => FileKvStore.open({
    path, fsync: 'always', compactMinBytes: Number.MAX_SAFE_INTEGER, compactRatio: 2, log: pino({ level: 'silent' }), ...extra
  })

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kv-store-'))
    path = join(dir, 'nested', 'kv.log')
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  test('hostile keys and values survive a restart byte for byte', async () => {
    const entries: Array<[string, Buffer]> = [
      ['tab\there', Buffer.from('value\twith\ttabs')],
      ['new\nline', Buffer.from('line1\nline2\r\n')],
      ['nul\u0000key', Buffer.from([0, 0, 1, 0])],
      ['percent %41 %', Buffer.from('100%')],
      ['emoji 😀🚀', Buffer.from('ünïcödé ✓ 😀')],
      ['SNKVLOG1', Buffer.concat([Buffer.from('SNKVLOG1'), encodeRecord(OP_PUT, Buffer.from('fake'), Buffer.from('record'))])],
      ['random', randomBytes(4096)],
      ['empty', Buffer.alloc(0)]
    ]
    const store = await open()
    for (const [k, v] of entries) await store.put(k, v)
    await store.put('gone', Buffer.from('x'))
    await store.delete('gone')
    await store.close()

    const reopened = await open()
    for (const [k, v] of entries) expect((await reopened.get(k))?.equals(v)).toBe(true)
    expect(await reopened.get('gone')).toBeUndefined()
    expect(reopened.size).toBe(entries.length)
    await reopened.close()
  })

  test('replay of a large mixed log matches a reference model (index growth, overwrites, deletes)', async () => {
    const store = await open({ fsync: 'off' })
    const model = new Map<string, Buffer>()
    let seed = 42
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n }
    const writes: Array<Promise<void>> = []
    for (let i = 0; i < 60000; i++) {
      const key = `k${rand(40000)}${i % 7 === 0 ? '\u0000😀' : ''}`
      if (rand(10) === 0) {
        model.delete(key)
        writes.push(store.delete(key))
      } else {
        const value = Buffer.from(`v${i}`.repeat(1 + rand(5)))
        model.set(key, value)
        writes.push(store.put(key, value))
      }
      if (writes.length === 1000) await Promise.all(writes.splice(0))
    }
    await Promise.all(writes)
    await store.close()
    const reopened = await open()
    expect(reopened.size).toBe(model.size)
    for (const [k, v] of model) expect((await reopened.get(k))?.equals(v)).toBe(true)
    expect(reopened.bytes.live).toBe([...model].reduce((sum, [k, v]) => sum + 17 + Buffer.byteLength(k) + v.length, 0))
    await reopened.close()
  }, 30_000) // 60,000 writes and a replay: seconds on a machine busy with other suites

  test('concurrent writers share fsyncs (group commit)', async () => {
    let syncs = 0
    const store = await open({ observer: { onSync: () => { syncs++ } } })
    await Promise.all(Array.from({ length: 200 }, (_, i) => store.put(`k${i}`, Buffer.from(`v${i}`))))
    expect(syncs).toBeGreaterThan(0)
    expect(syncs).toBeLessThan(200)
    expect((await store.get('k199'))?.toString()).toBe('v199')
    await store.close()
  })

  test('a torn final record is dropped with a warning and the rest is kept', async () => {
    const store = await open()
    await store.put('a', Buffer.from('1'))
    await store.put('b', Buffer.from('2'))
    await store.close()
    const full = statSync(path).size
    appendFileSync(path, encodeRecord(OP_PUT, Buffer.from('c'), Buffer.from('three')).subarray(0, 15))
    const { log, lines } = recordingLogger()
    const reopened = await open({ log })
    expect((await reopened.get('a'))?.toString()).toBe('1')
    expect((await reopened.get('b'))?.toString()).toBe('2')
    expect(await reopened.get('c')).toBeUndefined()
    expect(lines.some((l) => l.level === 40 && /torn record/.test(l.msg))).toBe(true)
    expect(statSync(path).size).toBe(full) // truncated back to the last good record
    await reopened.put('c', Buffer.from('after'))
    await reopened.close()
    const again = await open()
    expect((await again.get('c'))?.toString()).toBe('after')
    await again.close()
  })

  test('a record whose payload was only partly persisted at the end is torn, not corrupt', async () => {
    const store = await open()
    await store.put('a', Buffer.from('1'))
    await store.put('b', randomBytes(100))
    await store.close()
    const bytes = readFileSync(path)
    bytes[bytes.length - 3]! ^= 0xff // damage inside the final record only
    writeFileSync(path, bytes)
    const reopened = await open()
    expect((await reopened.get('a'))?.toString()).toBe('1')
    expect(await reopened.get('b')).toBeUndefined()
    await reopened.close()
  })

  test('corruption in the middle stops start-up with a clear message', async () => {
    const store = await open()
    await store.put('a', Buffer.from('first value'))
    await store.put('b', Buffer.from('second value'))
    await store.close()
    const bytes = readFileSync(path)
    bytes[8 + 12 + 6]! ^= 0xff // inside the first record's payload
    writeFileSync(path, bytes)
    await expect(open()).rejects.toThrow(KvLogCorruptError)
    await expect(open()).rejects.toThrow(/corrupt at byte 8 .*truncate -s 8/)
  })

  test('a file that is not a log is refused', async () => {
    const store = await open()
    await store.close()
    writeFileSync(path, 'key\tvalue\n')
    await expect(open()).rejects.toThrow(/bad magic/)
  })

  test('compaction rewrites the live set atomically while writes continue', async () => {
    const store = await open({ fsync: 'off' })
    const value = randomBytes(512)
    for (let round = 0; round < 20; round++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => store.put(`key-${i}`, Buffer.concat([value, Buffer.from(`${round}`)]))))
    }
    for (let i = 50; i < 100; i++) await store.delete(`key-${i}`)
    const before = statSync(path).size
    const compaction = store.compact()
    // Writes that land during the rewrite must survive it.
    const during = Promise.all(Array.from({ length: 50 }, (_, i) => store.put(`during-${i}`, Buffer.from(`d${i}`))))
    await Promise.all([compaction, during])
    await store.delete('key-0')
    await store.close()
    const after = statSync(path).size
    expect(after).toBeLessThan(before / 5)

    const reopened = await open()
    expect(reopened.size).toBe(49 + 50)
    expect(await reopened.get('key-0')).toBeUndefined()
    expect((await reopened.get('key-1'))?.equals(Buffer.concat([value, Buffer.from('19')]))).toBe(true)
    expect(await reopened.get('key-60')).toBeUndefined()
    expect((await reopened.get('during-49'))?.toString()).toBe('d49')
    await reopened.close()
  })

  test('compaction rebuilds the table in memory of its own, so deleted and overwritten data is freed', async () => {
    const store = await open({ fsync: 'off' })
    const model = new Map<string, Buffer>()
    const put = (k: string, v: Buffer) => { model.set(k, v); return store.put(k, v) }
    await Promise.all(Array.from({ length: 2000 }, (_, i) => put(`k${i}`, randomBytes(1024))))
    // A tenth keeps its 1 KiB value; the rest is deleted or overwritten with a few bytes.
    await Promise.all(Array.from({ length: 2000 }, (_, i) => {
      if (i % 10 === 0) return undefined
      if (i % 2 === 1) {
        model.delete(`k${i}`)
        return store.delete(`k${i}`)
      }
      return put(`k${i}`, Buffer.from(`small ${i}`))
    }))
    await store.close()

    const reopened = await open()
    const table = () => (reopened as unknown as { data: KeyTable }).data
    const values = async () => Promise.all([...model.keys()].map(async (k) => (await reopened.get(k))!))
    // After a replay every key and value is a view into the chunk the log was read in.
    const replayChunks = new Set((await values()).map((v) => v.buffer))
    expect(replayChunks.size).toBe(1)
    expect(table().retainedBytes()).toBeGreaterThan(statSync(path).size)
    expect(reopened.liveDataBytes).toBeLessThan(statSync(path).size / 8)

    await reopened.compact()
    expect(table().retainedBytes()).toBeLessThan(1.5 * reopened.liveDataBytes)
    for (const v of await values()) expect(replayChunks.has(v.buffer)).toBe(false)
    for (const [key] of table().entries()) expect(replayChunks.has(key.buffer)).toBe(false)
    expect(reopened.size).toBe(model.size)
    for (const [k, v] of model) expect((await reopened.get(k))?.equals(v)).toBe(true)
    await reopened.close()
  })

  test('compaction starts by itself once the log outgrows the data', async () => {
    let compactions = 0
    const store = await open({ fsync: 'off', compactMinBytes: 64 * 1024, compactRatio: 2, observer: { onCompaction: () => { compactions++ } } })
    for (let i = 0; i < 400; i++) await store.put('same-key', randomBytes(1024))
    await store.drain()
    expect(compactions).toBeGreaterThan(0)
    expect(statSync(path).size).toBeLessThan(200 * 1024)
    await store.close()
  })

  test('a failed write is never acknowledged and stops further writes', async () => {
    const store = await open()
    await store.put('ok', Buffer.from('1'))
    // Pull the file handle away underneath the store: the next write fails with EBADF,
    // standing in for a disk that errors on write/fsync.
    await (store as unknown as { writer: { fh: { close(): Promise<void> } } }).writer.fh.close()
    await expect(store.put('lost', Buffer.from('2'))).rejects.toMatchObject({ code: 'KV_UNAVAILABLE', statusCode: 503 })
    await expect(store.put('later', Buffer.from('3'))).rejects.toMatchObject({ code: 'KV_UNAVAILABLE' })
    expect(await store.get('lost')).toBeUndefined()
    expect((await store.get('ok'))?.toString()).toBe('1')
  })

  test('a compaction whose rename cannot be made durable refuses further writes; nothing acknowledged is lost', async () => {
    const store = await open()
    for (let i = 0; i < 20; i++) await store.put('k', Buffer.from(`v${i}`))
    await store.put('other', Buffer.from('kept'))
    const sync = jest.spyOn(directory, 'syncDirectory').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }))
    try {
      await store.compact()
    } finally {
      sync.mockRestore()
    }
    await expect(store.put('after', Buffer.from('x'))).rejects.toMatchObject({ code: 'KV_UNAVAILABLE' })
    await store.close()
    const reopened = await open()
    expect((await reopened.get('k'))?.toString()).toBe('v19')
    expect((await reopened.get('other'))?.toString()).toBe('kept')
    expect(await reopened.get('after')).toBeUndefined()
    await reopened.close()
  })

  test('batch and off policies acknowledge writes that a reopen still sees after close', async () => {
    for (const fsync of ['batch', 'off'] as const) {
      const store = await open({ fsync })
      await Promise.all(Array.from({ length: 50 }, (_, i) => store.put(`${fsync}-${i}`, Buffer.from(String(i)))))
      await store.close()
      const reopened = await open()
      expect((await reopened.get(`${fsync}-49`))?.toString()).toBe('49')
      await reopened.close()
    }
  })

  test('maxLiveBytes: concurrent PUTs are never let past the cap, and a replay counts the same live data', async () => {
    const store = await open({ maxLiveBytes: 100 })
    // 10 writes of 20 bytes (2-byte key + 18-byte value) at once: exactly 5 fit.
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.put(`k${i}`, Buffer.alloc(18))))
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5)
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(KvFullError)
    expect(store.liveDataBytes).toBe(100)
    await store.close()
    const again = await open({ maxLiveBytes: 100 })
    expect(again.liveDataBytes).toBe(100)
    await expect(again.put('zz', Buffer.alloc(0))).rejects.toBeInstanceOf(KvFullError)
    await again.close()
  })
})
