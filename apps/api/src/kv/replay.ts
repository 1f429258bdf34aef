import type { FileHandle } from 'node:fs/promises'
import { CORRUPT, DECODED, INCOMPLETE, MAGIC, OP_PUT, decodeRecord, newRecordView, recordSize } from './record-format'
import { KvLogCorruptError } from './store'
import { KeyIndex } from './key-index'

const READ_CHUNK = 16 * 1024 * 1024

/** What replaying a log yields: the live map and where the valid log ends. */
export interface ReplayResult {
  data: Map<string, Buffer>
  /** Sum of recordSize over live entries: what a compacted log would weigh. */
  liveBytes: number
  /** Offset just past the last valid record (the file is longer if its tail is torn). */
  validBytes: number
  records: number
  /** Set when the log ended in a torn record, which the caller truncates away. */
  torn?: { offset: number; reason: string }
}

/** Per-record facts kept during replay, in typed arrays that double when full. */
class RecordTable {
  op = new Uint8Array(1 << 16)
  chunk = new Int32Array(1 << 16)
  keyStart = new Int32Array(1 << 16)
  keyEnd = new Int32Array(1 << 16)
  end = new Int32Array(1 << 16)
  length = 0

  push(op: number, chunk: number, keyStart: number, keyEnd: number, end: number): number {
    if (this.length === this.op.length) this.grow()
    const n = this.length++
    this.op[n] = op
    this.chunk[n] = chunk
    this.keyStart[n] = keyStart
    this.keyEnd[n] = keyEnd
    this.end[n] = end
    return n
  }

  private grow(): void {
    const double = <T extends Uint8Array | Int32Array>(a: T): T => {
      const b = new (a.constructor as { new (n: number): T })(a.length * 2)
      b.set(a)
      return b
    }
    this.op = double(this.op)
    this.chunk = double(this.chunk)
    this.keyStart = double(this.keyStart)
    this.keyEnd = double(this.keyEnd)
    this.end = double(this.end)
  }
}

/**
 * Reads the whole log in 16 MiB chunks and rebuilds the key -> value map.
 *
 * Built for a million-record log to replay in well under a second: records are
 * decoded into one reused view, each record only updates a byte-keyed hash
 * index (KeyIndex) with its record number, and the JS strings, value views and
 * Map entries are made once per live key at the end. Values stay views into
 * the read chunks, so nothing is copied.
 */
export async function replayLog(fh: FileHandle, size: number, path: string): Promise<ReplayResult> {
  const chunks: Buffer[] = []
  const records = new RecordTable()
  const index = new KeyIndex((n) => [chunks[records.chunk[n]!]!, records.keyStart[n]!, records.keyEnd[n]!])
  const view = newRecordView()
  let buf = Buffer.alloc(0)
  let fileOffset = 0 // file offset of buf[0]
  let readPos = 0
  let torn: ReplayResult['torn']

  reading: for (;;) {
    // The unparsed tail of the previous chunk (less than one record) goes first.
    const chunk = Buffer.allocUnsafe(buf.length + Math.min(READ_CHUNK, size - readPos))
    buf.copy(chunk, 0)
    const want = chunk.length - buf.length
    const { bytesRead } = want > 0 ? await fh.read(chunk, buf.length, want, readPos) : { bytesRead: 0 }
    readPos += bytesRead
    buf = chunk.subarray(0, buf.length + bytesRead)
    const chunkIndex = chunks.push(buf) - 1
    const atEof = readPos >= size
    let pos = 0
    if (fileOffset === 0) {
      if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
        throw new KvLogCorruptError(path, 0, 'not a key-value log (bad magic)')
      }
      pos = MAGIC.length
    }
    while (pos < buf.length) {
      const outcome = decodeRecord(buf, pos, atEof, view)
      if (outcome === INCOMPLETE) break
      if (outcome !== DECODED) {
        if (outcome === CORRUPT) throw new KvLogCorruptError(path, fileOffset + pos, view.reason)
        torn = { offset: fileOffset + pos, reason: view.reason }
        break reading
      }
      const n = records.push(view.op, chunkIndex, view.keyStart, view.keyEnd, view.end)
      index.set(buf, view.keyStart, view.keyEnd, n)
      pos = view.end
    }
    fileOffset += pos
    buf = buf.subarray(pos)
    if (atEof) break
  }

  const data = new Map<string, Buffer>()
  let liveBytes = 0
  index.forEach((n) => {
    if (records.op[n] !== OP_PUT) return // the key's latest record deletes it
    const chunk = chunks[records.chunk[n]!]!
    const keyStart = records.keyStart[n]!
    const keyEnd = records.keyEnd[n]!
    const value = chunk.subarray(keyEnd, records.end[n])
    data.set(chunk.toString('utf8', keyStart, keyEnd), value)
    liveBytes += recordSize(keyEnd - keyStart, value.length)
  })
  return { data, liveBytes, validBytes: torn ? torn.offset : size, records: records.length, torn }
}
