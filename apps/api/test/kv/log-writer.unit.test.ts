import type { FileHandle } from 'node:fs/promises'
import pino from 'pino'
import { LogWriter, type FsyncPolicy, type LogWrite } from '../../src/kv/log-writer'
import { BATCH_HEADER_BYTES, FORMAT_V1, FORMAT_V2, OP_PUT, V1_HEADER_BYTES, type LogFormat } from '../../src/kv/record-format'

interface Write extends LogWrite { id: number }

/** A file handle that records what the writer does to it and fails when told to. */
function fakeHandle() {
  const calls: string[] = []
  /** The bytes of each writev. */
  const written: Buffer[] = []
  const failing = { writev: false, datasync: false }
  /** While set, a writev waits for it: the write is "in flight". */
  const held: { until?: Promise<void> } = {}
  const fh = {
    async writev(buffers: Buffer[]) {
      calls.push(`writev ${buffers.length}`)
      written.push(Buffer.concat(buffers))
      await new Promise((resolve) => setImmediate(resolve))
      await held.until
      if (failing.writev) throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' })
      return { bytesWritten: buffers.reduce((n, b) => n + b.length, 0), buffers }
    },
    async datasync() {
      calls.push('datasync')
      await new Promise((resolve) => setImmediate(resolve))
      if (failing.datasync) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' })
    },
    async close() { calls.push('close') }
  }
  return { fh: fh as unknown as FileHandle, calls, written, failing, held }
}

function writer(fsync: FsyncPolicy, format: LogFormat = FORMAT_V2) {
  const { fh, calls, written: bytes, failing, held } = fakeHandle()
  const written: number[][] = []
  const refused: number[] = []
  const w = new LogWriter<Write>(fh, 8, {
    path: '/nowhere/kv.log',
    format,
    fsync,
    log: pino({ level: 'silent' }),
    written: (batch) => { written.push(batch.map((x) => x.id)) },
    refused: (batch) => { refused.push(...batch.map((x) => x.id)) }
  })
  // A 1-byte key and a 1-byte value: 11 bytes as a v2 record, 18 as a v1 record.
  const append = (id: number) => w.append({ id, op: OP_PUT, key: Buffer.from('k'), value: Buffer.from([id]) })
  return { w, append, calls, bytes, failing, held, written, refused }
}

describe('LogWriter', () => {
  test('always: writes queued during a flush go out together, with one writev and one fsync per batch', async () => {
    const { w, append, calls, bytes, held, written } = writer('always')
    let release!: () => void
    held.until = new Promise((resolve) => { release = resolve })
    const first = append(0)
    while (calls.length === 0) await new Promise((resolve) => setImmediate(resolve))
    const rest = Array.from({ length: 9 }, (_, i) => append(i + 1))
    release()
    await Promise.all([first, ...rest])
    expect(written).toEqual([[0], [1, 2, 3, 4, 5, 6, 7, 8, 9]])
    // v2: each group commit is one batch, one buffer with one batch header.
    expect(calls).toEqual(['writev 1', 'datasync', 'writev 1', 'datasync'])
    expect(bytes.map((b) => b.length)).toEqual([BATCH_HEADER_BYTES + 11, BATCH_HEADER_BYTES + 9 * 11])
    expect(w.bytes).toBe(8 + 2 * BATCH_HEADER_BYTES + 10 * 11)
  })

  test('a v1 log is appended to in v1: a record with its own header per write', async () => {
    const { w, append, calls, bytes } = writer('always', FORMAT_V1)
    await Promise.all([append(1), append(2), append(3)])
    expect(calls).toEqual(['writev 3', 'datasync'])
    expect(bytes[0]!.length).toBe(3 * (V1_HEADER_BYTES + 5 + 2))
    expect(w.bytes).toBe(8 + 3 * 19)
  })

  test('batch: writes are acknowledged before their fsync, which follows within the timer once per burst', async () => {
    const { append, calls, written } = writer('batch')
    await Promise.all([append(1), append(2)])
    expect(written).toEqual([[1, 2]])
    expect(calls).not.toContain('datasync')
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
    for (let waited = 0; !calls.includes('datasync') && waited < 2000; waited += 5) await sleep(5)
    await sleep(30)
    expect(calls).toEqual(['writev 1', 'datasync'])
  })

  test('a failed write or fsync refuses its batch and everything after it', async () => {
    for (const what of ['writev', 'datasync'] as const) {
      const { w, append, failing, written, refused } = writer('always')
      await append(1)
      failing[what] = true
      const results = await Promise.allSettled([append(2), append(3)])
      failing[what] = false // the disk recovering does not make the log trustworthy again
      await expect(append(4)).rejects.toMatchObject({ code: 'KV_UNAVAILABLE', statusCode: 503 })
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected'])
      expect(written).toEqual([[1]])
      expect(refused).toEqual([2, 3, 4])
      expect(w.refusal).toMatchObject({ code: 'KV_UNAVAILABLE', message: expect.stringContaining('EIO') })
    }
  })

  test('close flushes what is queued, fsyncs, closes, and refuses later writes', async () => {
    const { w, append, calls, written } = writer('off')
    const queued = append(1)
    await w.close()
    await queued
    expect(written).toEqual([[1]])
    expect(calls).toEqual(['writev 1', 'datasync', 'close'])
    await expect(append(2)).rejects.toMatchObject({ code: 'KV_UNAVAILABLE', message: expect.stringContaining('store closed') })
  })
})
