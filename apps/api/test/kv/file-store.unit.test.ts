import { mkdirSync, mkdtempSync, rmSync, statSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import pino from 'pino'
import { FileKvStore, type FileKvStoreOptions } from '../../src/kv/file-store'
import { KvLogCorruptError } from '../../src/kv/store'
import { KvFullError } from '../../src/errors'
import {
  BATCH_HEADER_BYTES, MAGIC_V1, MAGIC_V2, OP_DELETE, OP_PUT, RECORD_HEADER_BYTES, crc, encodeBatchV2, encodeRecordV1, type Op
} from '../../src/kv/record-format'
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
      ['SNKVLOG1', Buffer.concat([MAGIC_V1, encodeRecordV1(OP_PUT, Buffer.from('fake'), Buffer.from('record'))])],
      ['SNKVLOG2', Buffer.concat([MAGIC_V2, encodeBatchV2([{ op: OP_PUT, key: Buffer.from('fake'), value: Buffer.from('batch') }])])],
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
    expect(reopened.bytes.live).toBe([...model].reduce((sum, [k, v]) => sum + RECORD_HEADER_BYTES + Buffer.byteLength(k) + v.length, 0))
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

  test('a torn final batch is dropped with a warning and the rest is kept', async () => {
    const store = await open()
    await store.put('a', Buffer.from('1'))
    await store.put('b', Buffer.from('2'))
    await store.close()
    expect(readFileSync(path).subarray(0, 8)).toEqual(MAGIC_V2)
    const full = statSync(path).size
    const batch = encodeBatchV2([{ op: OP_PUT, key: Buffer.from('c'), value: Buffer.from('three') }, { op: OP_PUT, key: Buffer.from('d'), value: Buffer.from('four') }])
    appendFileSync(path, batch.subarray(0, batch.length - 3))
    const { log, lines } = recordingLogger()
    const reopened = await open({ log })
    expect((await reopened.get('a'))?.toString()).toBe('1')
    expect((await reopened.get('b'))?.toString()).toBe('2')
    // The whole batch goes: its first record is complete, but the batch is one group commit, never acknowledged.
    expect(await reopened.get('c')).toBeUndefined()
    expect(await reopened.get('d')).toBeUndefined()
    expect(lines.some((l) => l.level === 40 && /torn batch/.test(l.msg))).toBe(true)
    expect(statSync(path).size).toBe(full) // truncated back to the last good record
    await reopened.put('c', Buffer.from('after'))
    await reopened.close()
    const again = await open()
    expect((await again.get('c'))?.toString()).toBe('after')
    await again.close()
  })

  test('a batch whose body was only partly persisted at the end is torn, not corrupt', async () => {
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
    bytes[8 + 12 + 6]! ^= 0xff // inside the first batch's body
    writeFileSync(path, bytes)
    await expect(open()).rejects.toThrow(KvLogCorruptError)
    await expect(open()).rejects.toThrow(/corrupt at byte 8 \(batch checksum mismatch\).*truncate -s 8/)
  })

  test('a batch length that lies is caught by the header checksum, or found torn at the end, without allocating it', async () => {
    const store = await open()
    await store.put('a', Buffer.from('first value'))
    await store.put('b', Buffer.from('second value'))
    await store.close()
    const good = readFileSync(path)
    const second = 8 + BATCH_HEADER_BYTES + RECORD_HEADER_BYTES + 1 + 11
    // Damaged length in the middle: the header checksum no longer matches.
    const damaged = Buffer.from(good)
    damaged.writeUInt32LE(0xfffffff0, 8)
    writeFileSync(path, damaged)
    await expect(open()).rejects.toThrow(/corrupt at byte 8 \(batch header checksum mismatch\)/)
    // A 4 GiB length whose header checksum holds (as a crash cannot write, but a bug could)
    // on the final batch: past the end of the file, so torn, and never read or allocated.
    const lying = Buffer.from(good)
    lying.writeUInt32LE(0xfffffff0, second)
    lying.writeUInt32LE(crc(lying, second, second + 8), second + 8)
    writeFileSync(path, lying)
    const reopened = await open()
    expect((await reopened.get('a'))?.toString()).toBe('first value')
    expect(await reopened.get('b')).toBeUndefined()
    expect(statSync(path).size).toBe(second)
    await reopened.close()
  })

  test('a record that does not fit its batch is corruption even when the batch checksum holds', async () => {
    const store = await open()
    await store.put('a', Buffer.from('1'))
    await store.put('b', Buffer.from('2'))
    await store.close()
    const bytes = readFileSync(path)
    // The first batch's only record claims a 1000-byte value; re-checksum the body as a buggy writer would have.
    bytes.writeUInt32LE(1000, 8 + BATCH_HEADER_BYTES + 5)
    bytes.writeUInt32LE(crc(bytes, 8 + BATCH_HEADER_BYTES, 8 + BATCH_HEADER_BYTES + RECORD_HEADER_BYTES + 2), 8 + 4)
    bytes.writeUInt32LE(crc(bytes, 8, 8 + 8), 8 + 8)
    writeFileSync(path, bytes)
    await expect(open()).rejects.toThrow(/corrupt at byte 8 \(record at byte 20 does not fit its batch\)/)
  })

  test('a log of an unknown version is refused, not read as garbage', async () => {
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, 'SNKVLOG9 and whatever a later release writes')
    await expect(open()).rejects.toThrow(/unknown log format version '9'/)
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
    expect(readFileSync(path).subarray(0, 8)).toEqual(MAGIC_V2)

    const reopened = await open()
    expect(reopened.size).toBe(49 + 50)
    expect(await reopened.get('key-0')).toBeUndefined()
    expect((await reopened.get('key-1'))?.equals(Buffer.concat([value, Buffer.from('19')]))).toBe(true)
    expect(await reopened.get('key-60')).toBeUndefined()
    expect((await reopened.get('during-49'))?.toString()).toBe('d49')
    await reopened.close()
  })

  test('replay and compaction keep only the live data, in memory of the table\'s own', async () => {
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
    expect(reopened.liveDataBytes).toBeLessThan(statSync(path).size / 8)
    // The replay copied the live values (and the keys) out of what it read: the 2 MB of
    // deleted and overwritten values are not held, only one block of live values.
    const replayed = new Set((await values()).map((v) => v.buffer))
    expect(replayed.size).toBe(1)
    expect(table().retainedBytes()).toBeLessThan(1.5 * reopened.liveDataBytes + 64 * 1024)

    await reopened.compact()
    expect(table().retainedBytes()).toBeLessThan(1.5 * reopened.liveDataBytes)
    for (const v of await values()) expect(replayed.has(v.buffer)).toBe(false)
    for (const [key] of table().entries()) expect(replayed.has(key.buffer)).toBe(false)
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

  describe('a v1 log (written before format v2)', () => {
    /** Writes `records` as a v1 log: the magic, then a record with its two checksums each. */
    function writeV1(records: Array<[Op, string, string?]>): void {
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, Buffer.concat([MAGIC_V1, ...records.map(([op, k, v]) => encodeRecordV1(op, Buffer.from(k), Buffer.from(v ?? '')))]))
    }

    test('is read, and appended to in v1 until a compaction rewrites it as v2', async () => {
      writeV1([[OP_PUT, 'a', '1'], [OP_PUT, 'b', '2'], [OP_PUT, 'a', 'one'], [OP_DELETE, 'b']])
      const store = await open()
      expect((await store.get('a'))?.toString()).toBe('one')
      expect(await store.get('b')).toBeUndefined()
      await store.put('c', Buffer.from('3'))
      await store.close()
      const appended = readFileSync(path)
      expect(appended.subarray(0, 8)).toEqual(MAGIC_V1)
      expect(appended.subarray(appended.length - 19)).toEqual(encodeRecordV1(OP_PUT, Buffer.from('c'), Buffer.from('3')))

      const again = await open({ fsync: 'off' })
      expect((await again.get('c'))?.toString()).toBe('3')
      for (let i = 0; i < 20; i++) await again.put('a', Buffer.from(`v${i}`))
      // Writes that land during the rewrite are in the old log in v1 and go to the new one in v2.
      const compaction = again.compact()
      const during = Promise.all(Array.from({ length: 20 }, (_, i) => again.put(`during-${i}`, Buffer.from(`d${i}`))))
      await Promise.all([compaction, during])
      await again.put('after', Buffer.from('compaction'))
      await again.delete('c')
      await again.close()
      expect(readFileSync(path).subarray(0, 8)).toEqual(MAGIC_V2)

      const upgraded = await open()
      expect((await upgraded.get('a'))?.toString()).toBe('v19')
      expect(await upgraded.get('b')).toBeUndefined()
      expect(await upgraded.get('c')).toBeUndefined()
      expect((await upgraded.get('during-19'))?.toString()).toBe('d19')
      expect((await upgraded.get('after'))?.toString()).toBe('compaction')
      expect(upgraded.size).toBe(22)
      await upgraded.close()
    })

    test('a torn final record is dropped with a warning, the file truncated, and appending goes on in v1', async () => {
      writeV1([[OP_PUT, 'a', '1'], [OP_PUT, 'b', '2']])
      const full = statSync(path).size
      appendFileSync(path, encodeRecordV1(OP_PUT, Buffer.from('c'), Buffer.from('three')).subarray(0, 15))
      const { log, lines } = recordingLogger()
      const store = await open({ log })
      expect((await store.get('b'))?.toString()).toBe('2')
      expect(await store.get('c')).toBeUndefined()
      expect(lines.some((l) => l.level === 40 && /torn record/.test(l.msg))).toBe(true)
      expect(statSync(path).size).toBe(full)
      await store.put('c', Buffer.from('after'))
      await store.close()
      expect(readFileSync(path).subarray(0, 8)).toEqual(MAGIC_V1)
      const again = await open()
      expect((await again.get('c'))?.toString()).toBe('after')
      await again.close()
    })

    test('a record whose payload was only partly persisted at the end is torn, not corrupt', async () => {
      writeV1([[OP_PUT, 'a', '1'], [OP_PUT, 'b', 'x'.repeat(100)]])
      const bytes = readFileSync(path)
      bytes[bytes.length - 3]! ^= 0xff
      writeFileSync(path, bytes)
      const store = await open()
      expect((await store.get('a'))?.toString()).toBe('1')
      expect(await store.get('b')).toBeUndefined()
      await store.close()
    })

    test('corruption in the middle stops start-up with the same error as in v2', async () => {
      writeV1([[OP_PUT, 'a', 'first value'], [OP_PUT, 'b', 'second value']])
      const bytes = readFileSync(path)
      bytes[8 + 12 + 6]! ^= 0xff // inside the first record's payload
      writeFileSync(path, bytes)
      await expect(open()).rejects.toThrow(KvLogCorruptError)
      await expect(open()).rejects.toThrow(/corrupt at byte 8 \(record payload checksum mismatch\).*truncate -s 8/)
      // A damaged length field: the header checksum catches it before the length is trusted.
      writeV1([[OP_PUT, 'a', 'first value'], [OP_PUT, 'b', 'second value']])
      const lying = readFileSync(path)
      lying.writeUInt32LE(0xfffffff0, 8)
      writeFileSync(path, lying)
      await expect(open()).rejects.toThrow(/corrupt at byte 8 \(record header checksum mismatch\)/)
    })
  })
})
