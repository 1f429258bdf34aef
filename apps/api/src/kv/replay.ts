import type { FileHandle } from 'node:fs/promises'
import { CORRUPT, DECODED, INCOMPLETE, MAGIC, OP_PUT, decodeRecord, newRecordView, recordSize } from './record-format'
import { KvLogCorruptError } from './store'

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

/**
 * Reads the whole log in 16 MiB chunks and rebuilds the key -> value map.
 *
 * Built for a million-record log to replay in well under a second: records are
 * decoded into one reused view, and the map first holds only the record number
 * of each key's latest value (no Buffer per record, so no garbage per record);
 * the value views are made once, for the live keys, at the end. Values stay
 * views into the read chunks, so nothing is copied.
 */
export async function replayLog(fh: FileHandle, size: number, path: string): Promise<ReplayResult> {
  const latest = new Map<string, number>()
  const chunks: Buffer[] = []
  // Per PUT record: which chunk, and where its value starts and ends.
  const valueChunk: number[] = []
  const valueStart: number[] = []
  const valueEnd: number[] = []
  const view = newRecordView()
  let buf = Buffer.alloc(0)
  let fileOffset = 0 // file offset of buf[0]
  let readPos = 0
  let records = 0
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
      const key = buf.toString('utf8', view.keyStart, view.keyEnd)
      if (view.op === OP_PUT) {
        latest.set(key, valueChunk.length)
        valueChunk.push(chunkIndex)
        valueStart.push(view.keyEnd)
        valueEnd.push(view.end)
      } else {
        latest.delete(key)
      }
      pos = view.end
      records++
    }
    fileOffset += pos
    buf = buf.subarray(pos)
    if (atEof) break
  }

  const data = new Map<string, Buffer>()
  let liveBytes = 0
  for (const [key, n] of latest) {
    const value = chunks[valueChunk[n]!]!.subarray(valueStart[n], valueEnd[n])
    data.set(key, value)
    liveBytes += recordSize(Buffer.byteLength(key), value.length)
  }
  return { data, liveBytes, validBytes: torn ? torn.offset : size, records, torn }
}
