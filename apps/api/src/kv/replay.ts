import type { FileHandle } from 'node:fs/promises'
import {
  CORRUPT, DECODED, FORMAT_V1, FORMAT_V2, INCOMPLETE, MAGIC_BYTES, MAGIC_PREFIX, MAGIC_V1, MAGIC_V2, OP_DELETE, OP_PUT,
  RECORD_HEADER_BYTES, TORN, decodeBatch, decodeRecordV1, newBatchView, newRecordView, u32, type LogFormat
} from './record-format'
import { KvLogCorruptError } from './store'
import { KeyTable } from './key-table'

const READ_CHUNK = 16 * 1024 * 1024
/**
 * Free bytes kept in front of each chunk for the previous chunk's unparsed
 * tail (less than one record or batch). A tail longer than this costs a copy
 * of the whole chunk, so it holds a compaction batch (COMPACT_BATCH_BYTES)
 * and most group-commit batches.
 */
const HEADROOM = 1024 * 1024

/** What replaying a log yields: the live map and where the valid log ends. */
export interface ReplayResult {
  data: KeyTable
  /** The log's version: the writer appends in it. */
  format: LogFormat
  /** Offset just past the last valid record or batch (the file is longer if its tail is torn). */
  validBytes: number
  records: number
  /** Set when the log ended in a torn record or batch, which the caller truncates away. */
  torn?: { offset: number; reason: string }
}

/** What a parser carries from chunk to chunk. */
interface Replay {
  path: string
  data: KeyTable
  records: number
  torn?: ReplayResult['torn']
}

/**
 * Applies the whole records or batches of `buf` (file offset `fileOffset`,
 * table block `block`) from `pos` on; the file ends at offset `eof`. Returns
 * where it stopped: the end of `buf`, an incomplete tail the next chunk
 * completes, or a torn tail (then `replay.torn` is set). Throws
 * KvLogCorruptError on corruption.
 */
type Parser = (replay: Replay, buf: Buffer, block: number, pos: number, fileOffset: number, eof: number) => number

/**
 * Reads the whole log in 16 MiB chunks and rebuilds the key -> value table.
 *
 * Built for a million-record log to replay in well under a second: records are
 * applied to the table straight away, as offsets into the chunks; no Buffer or
 * other object is made per record or per key. The table keeps pointing into
 * the chunks (the first compaction moves the live data out of them).
 */
export async function replayLog(fh: FileHandle, size: number, path: string, chunkBytes = READ_CHUNK): Promise<ReplayResult> {
  const replay: Replay = { path, data: KeyTable.forReplay(size), records: 0 }
  let format = FORMAT_V2
  let parse: Parser = parseV2
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
  // The next chunk is read while this one is parsed, so the disk and the CPU overlap.
  let nextRead: Promise<{ chunk: Buffer; length: number }> | undefined = readChunk(0)

  try {
    while (nextRead) {
      const { chunk, length }: { chunk: Buffer; length: number } = await nextRead
      readPos += length
      const atEof: boolean = readPos >= size || length === 0
      nextRead = atEof ? undefined : readChunk(readPos)
      // The unparsed tail of the previous chunk (less than one record or batch) goes first.
      if (buf.length <= HEADROOM) {
        buf.copy(chunk, HEADROOM - buf.length)
        buf = chunk.subarray(HEADROOM - buf.length, HEADROOM + length)
      } else {
        buf = Buffer.concat([buf, chunk.subarray(HEADROOM, HEADROOM + length)])
      }
      const block = replay.data.addBlock(buf)
      let pos = 0
      if (fileOffset === 0) {
        format = formatOf(buf, path)
        parse = format === FORMAT_V1 ? parseV1 : parseV2
        pos = MAGIC_BYTES
      }
      // A file that came up short of its size ends where the read did.
      pos = parse(replay, buf, block, pos, fileOffset, atEof ? fileOffset + buf.length : size)
      if (replay.torn) break
      fileOffset += pos
      buf = buf.subarray(pos)
    }
  } finally {
    // Never leave a read in flight on a handle the caller is about to truncate or close.
    await nextRead?.catch(() => {})
  }

  const { data, records, torn } = replay
  data.dropUnusedBlocks()
  return { data, format, validBytes: torn ? torn.offset : size, records, torn }
}

/** The log's version, from its magic. */
function formatOf(buf: Buffer, path: string): LogFormat {
  const magic = buf.subarray(0, MAGIC_BYTES)
  if (magic.equals(MAGIC_V2)) return FORMAT_V2
  if (magic.equals(MAGIC_V1)) return FORMAT_V1
  if (magic.length === MAGIC_BYTES && magic.subarray(0, MAGIC_PREFIX.length).equals(MAGIC_PREFIX)) {
    throw new KvLogCorruptError(path, 0, `unknown log format version '${magic.toString('latin1', MAGIC_PREFIX.length)}' (written by a newer release?)`)
  }
  throw new KvLogCorruptError(path, 0, 'not a key-value log (bad magic)')
}

/** v1: record by record, each with its two checksums. */
const parseV1: Parser = (replay, buf, block, pos, fileOffset, eof) => {
  const view = newRecordView()
  const atEof = fileOffset + buf.length >= eof
  while (pos < buf.length) {
    const outcome = decodeRecordV1(buf, pos, atEof, view)
    if (outcome === INCOMPLETE) break
    if (outcome !== DECODED) {
      if (outcome === CORRUPT) throw new KvLogCorruptError(replay.path, fileOffset + pos, view.reason)
      replay.torn = { offset: fileOffset + pos, reason: view.reason }
      break
    }
    replay.data.replay(block, view.keyStart, view.keyEnd, view.end, view.op === OP_PUT)
    replay.records++
    pos = view.end
  }
  return pos
}

/**
 * v2: batch by batch. Once a batch's one checksum holds, its records are
 * exactly as the writer encoded them, so they are applied with bounds checks
 * only; a record that still does not fit its batch means the batch was
 * written wrong, and is reported as corruption at the batch.
 */
const parseV2: Parser = (replay, buf, block, pos, fileOffset, eof) => {
  const batch = newBatchView()
  const { data } = replay
  let records = 0
  while (pos < buf.length) {
    const outcome = decodeBatch(buf, pos, eof - fileOffset - pos, batch)
    if (outcome === INCOMPLETE) break
    if (outcome === CORRUPT) throw new KvLogCorruptError(replay.path, fileOffset + pos, batch.reason)
    if (outcome === TORN) {
      replay.torn = { offset: fileOffset + pos, reason: batch.reason }
      break
    }
    const end = batch.end
    for (let at = batch.start; at < end;) {
      const op = buf[at]
      const keyStart = at + RECORD_HEADER_BYTES
      if (keyStart > end) throw misfit(replay, fileOffset + pos, fileOffset + at)
      const keyEnd = keyStart + u32(buf, at + 1)
      const valueLength = u32(buf, at + 5)
      const recordEnd = keyEnd + valueLength
      if (recordEnd > end || (op !== OP_PUT && (op !== OP_DELETE || valueLength !== 0))) {
        throw misfit(replay, fileOffset + pos, fileOffset + at)
      }
      data.replay(block, keyStart, keyEnd, recordEnd, op === OP_PUT)
      records++
      at = recordEnd
    }
    pos = end
  }
  replay.records += records
  return pos
}

function misfit(replay: Replay, batchOffset: number, recordOffset: number): KvLogCorruptError {
  return new KvLogCorruptError(replay.path, batchOffset, `record at byte ${recordOffset} does not fit its batch`)
}
