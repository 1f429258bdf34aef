import type { FileHandle } from 'node:fs/promises'
import { CORRUPT, DECODED, INCOMPLETE, MAGIC, OP_PUT, decodeRecord, newRecordView } from './record-format'
import { KvLogCorruptError } from './store'
import { KeyTable } from './key-table'

const READ_CHUNK = 16 * 1024 * 1024
const HEADROOM = 64 * 1024

/** What replaying a log yields: the live map and where the valid log ends. */
export interface ReplayResult {
  data: KeyTable
  /** Offset just past the last valid record (the file is longer if its tail is torn). */
  validBytes: number
  records: number
  /** Set when the log ended in a torn record, which the caller truncates away. */
  torn?: { offset: number; reason: string }
}

/** Per-record facts kept during replay, in typed arrays that double when full. */
class RecordTable {
  isPut: Uint8Array
  chunk: Int32Array
  keyStart: Int32Array
  keyEnd: Int32Array
  end: Int32Array
  length = 0

  constructor (capacity: number) {
    this.isPut = new Uint8Array(capacity)
    this.chunk = new Int32Array(capacity)
    this.keyStart = new Int32Array(capacity)
    this.keyEnd = new Int32Array(capacity)
    this.end = new Int32Array(capacity)
  }

  push(op: number, chunk: number, keyStart: number, keyEnd: number, end: number): void {
    if (this.length === this.isPut.length) this.grow()
    const n = this.length++
    this.isPut[n] = op === OP_PUT ? 1 : 0
    this.chunk[n] = chunk
    this.keyStart[n] = keyStart
    this.keyEnd[n] = keyEnd
    this.end[n] = end
  }

  private grow(): void {
    const double = <T extends Uint8Array | Int32Array>(a: T): T => {
      const b = new (a.constructor as { new (n: number): T })(a.length * 2)
      b.set(a)
      return b
    }
    this.isPut = double(this.isPut)
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
 * decoded into one reused view into typed arrays, and the byte-keyed table the
 * store serves from (KeyTable) is built from them, with key/value views made
 * once per live key. Values stay views into the read chunks, so nothing is copied
 * (the first compaction moves the live data out of them).
 */
export async function replayLog(fh: FileHandle, size: number, path: string, chunkBytes = READ_CHUNK): Promise<ReplayResult> {
  const chunks: Buffer[] = []
  // Sized from the file so the arrays rarely have to double (an average record is > 48 bytes).
  const records = new RecordTable(Math.max(1 << 16, 2 ** Math.ceil(Math.log2(size / 48 + 1))))
  const view = newRecordView()
  // Each chunk keeps HEADROOM free bytes in front, where the previous chunk's unparsed
  // tail is copied, so a record crossing the boundary needs no copy of the whole chunk.
  const readChunk = async (at: number): Promise<{ chunk: Buffer; length: number }> => {
    const chunk = Buffer.allocUnsafe(HEADROOM + Math.min(chunkBytes, size - at))
    const want = chunk.length - HEADROOM
    const { bytesRead } = want > 0 ? await fh.read(chunk, HEADROOM, want, at) : { bytesRead: 0 }
    return { chunk, length: bytesRead }
  }
  let buf: Buffer = Buffer.alloc(0)
  let fileOffset = 0 // file offset of buf[0]
  let readPos = 0
  let torn: ReplayResult['torn']
  // The next chunk is read while this one is parsed, so the disk and the CPU overlap.
  let nextRead: Promise<{ chunk: Buffer; length: number }> | undefined = readChunk(0)

  try {
    reading: while (nextRead) {
      const { chunk, length }: { chunk: Buffer; length: number } = await nextRead
      readPos += length
      const atEof: boolean = readPos >= size || length === 0
      nextRead = atEof ? undefined : readChunk(readPos)
      // The unparsed tail of the previous chunk (less than one record) goes first.
      if (buf.length <= HEADROOM) {
        buf.copy(chunk, HEADROOM - buf.length)
        buf = chunk.subarray(HEADROOM - buf.length, HEADROOM + length)
      } else {
        buf = Buffer.concat([buf, chunk.subarray(HEADROOM, HEADROOM + length)])
      }
      const chunkIndex = chunks.push(buf) - 1
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
        records.push(view.op, chunkIndex, view.keyStart, view.keyEnd, view.end)
        pos = view.end
      }
      fileOffset += pos
      buf = buf.subarray(pos)
    }
  } finally {
    // Never leave a read in flight on a handle the caller is about to truncate or close.
    await nextRead?.catch(() => {})
  }

  const data = KeyTable.fromReplay(records, chunks)
  return { data, validBytes: torn ? torn.offset : size, records: records.length, torn }
}
