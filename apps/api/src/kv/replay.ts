import type { FileHandle } from 'node:fs/promises'
import {
  CORRUPT, DECODED, FORMAT_V1, FORMAT_V2, INCOMPLETE, MAGIC_BYTES, MAGIC_PREFIX, MAGIC_V1, MAGIC_V2, OP_DELETE, OP_PUT,
  RECORD_HEADER_BYTES, TORN, decodeBatch, decodeRecordV1, newBatchView, newRecordView, u32, type LogFormat
} from './record-format'
import { KvLogCorruptError } from './store'
import { KeyTable } from './key-table'

const READ_CHUNK = 4 * 1024 * 1024
/**
 * Free bytes kept in front of each chunk for the previous chunk's unparsed
 * tail (less than one record or batch). A longer tail costs a buffer of its
 * own, so this holds a compaction batch (COMPACT_BATCH_BYTES) and most
 * group-commit batches.
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
 * Applies the whole records or batches of `buf` (file offset `fileOffset`)
 * from `pos` on; the file ends at offset `eof`. Returns where it stopped: the
 * end of `buf`, an incomplete tail the next chunk completes, or a torn tail
 * (then `replay.torn` is set). Throws KvLogCorruptError on corruption.
 */
type Parser = (replay: Replay, buf: Buffer, pos: number, fileOffset: number, eof: number) => number

/**
 * Rebuilds the key -> value table from the log, in two passes over the file.
 *
 * Built for a million-record log to replay in well under a second. The first
 * pass checks and applies every record, reading the file in 4 MiB chunks into
 * two buffers it reuses; a record costs a hash and a probe, and no object. It
 * copies each key once, and notes where the latest value of each key is. The
 * second pass reads just those values, in file order, into one buffer.
 *
 * Why not keep the table pointing into the read chunks (as before): that holds
 * the whole file in fresh memory, and the first touch of each fresh page (a
 * page fault, on a VM a trap to the hypervisor) was the largest single cost
 * of a replay, more than the checksums. Now fresh memory is only the live keys
 * and values, which is also all the table keeps from the start (deleted and
 * overwritten records were held in memory until the first compaction).
 */
export async function replayLog(fh: FileHandle, size: number, path: string, chunkBytes = READ_CHUNK): Promise<ReplayResult> {
  const replay: Replay = { path, data: KeyTable.forReplay(size), records: 0 }
  let format = FORMAT_V2
  let parse: Parser = parseV2
  // Two buffers, read into in turn: the next chunk is read while this one is parsed, so the
  // disk and the CPU overlap. Each keeps HEADROOM free bytes in front, where the previous
  // chunk's unparsed tail is copied, so a record crossing the boundary needs no copy of the chunk.
  const chunkLength = Math.min(chunkBytes, size)
  const buffers = [Buffer.allocUnsafeSlow(HEADROOM + chunkLength), Buffer.allocUnsafeSlow(HEADROOM + chunkLength)]
  let turn = 0
  const readChunk = async (at: number): Promise<{ chunk: Buffer; length: number }> => {
    const chunk = buffers[turn++ % 2]!
    const want = Math.min(chunkLength, size - at)
    const { bytesRead } = want > 0 ? await fh.read(chunk, HEADROOM, want, at) : { bytesRead: 0 }
    return { chunk, length: bytesRead }
  }
  let buf: Buffer = Buffer.alloc(0)
  let fileOffset = 0 // file offset of buf[0]
  let readPos = 0
  let nextRead: Promise<{ chunk: Buffer; length: number }> | undefined = readChunk(0)

  try {
    while (nextRead) {
      const { chunk, length }: { chunk: Buffer; length: number } = await nextRead
      readPos += length
      const atEof: boolean = readPos >= size || length === 0
      // The unparsed tail of the previous chunk (less than one record or batch) goes first,
      // copied out before the next read reuses the buffer it is in.
      if (buf.length <= HEADROOM) {
        buf.copy(chunk, HEADROOM - buf.length)
        buf = chunk.subarray(HEADROOM - buf.length, HEADROOM + length)
      } else {
        buf = Buffer.concat([buf, chunk.subarray(HEADROOM, HEADROOM + length)])
      }
      nextRead = atEof ? undefined : readChunk(readPos)
      let pos = 0
      if (fileOffset === 0) {
        format = formatOf(buf, path)
        parse = format === FORMAT_V1 ? parseV1 : parseV2
        pos = MAGIC_BYTES
      }
      // A file that came up short of its size ends where the read did.
      pos = parse(replay, buf, pos, fileOffset, atEof ? fileOffset + buf.length : size)
      if (replay.torn) break
      fileOffset += pos
      buf = buf.subarray(pos)
    }
  } finally {
    // Never leave a read in flight on a handle the caller is about to truncate or close.
    await nextRead?.catch(() => {})
  }

  const { data, records, torn } = replay
  const values = buffers[0]!
  await data.loadValues(chunkLength, async (position, length) => {
    const into = length <= values.length ? values : Buffer.allocUnsafe(length)
    for (let done = 0; done < length;) {
      const { bytesRead } = await fh.read(into, done, length - done, position + done)
      if (bytesRead === 0) throw new KvLogCorruptError(path, position + done, 'the log shrank while it was replayed')
      done += bytesRead
    }
    return into
  })
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
const parseV1: Parser = (replay, buf, pos, fileOffset, eof) => {
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
    replay.data.replayRecord(buf, view.keyStart, view.keyEnd, view.op === OP_PUT, fileOffset + view.keyEnd, view.end - view.keyEnd)
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
const parseV2: Parser = (replay, buf, pos, fileOffset, eof) => {
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
      data.replayRecord(buf, keyStart, keyEnd, op === OP_PUT, fileOffset + keyEnd, valueLength)
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
