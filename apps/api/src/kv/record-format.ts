import { crc32 } from 'node:zlib'

/**
 * The on-disk formats of the key-value log. A log file starts with an 8-byte
 * magic that says its version; everything is little-endian, and lengths make
 * any byte legal in keys and values.
 *
 * v2 (`SNKVLOG2`, what new logs and compactions write): batches, one per
 * group-commit write, each with ONE checksum, verified natively in one call:
 *
 *   batch  = u32 bodyLength | u32 crc32(body) | u32 crc32(first 8 batch header bytes) | body
 *   body   = record*
 *   record = u8 op (1 put, 2 delete) | u32 keyLength | u32 valueLength | key bytes | value bytes
 *
 * v1 (`SNKVLOG1`, still read, and appended to until a compaction rewrites the
 * log as v2): records, each with its own two checksums:
 *
 *   u32 payloadLength | u32 crc32(payload) | u32 crc32(first 8 header bytes) | payload
 *   payload = u8 op | u32 keyLength | key bytes | value bytes
 *
 * In both, the header checksum vouches for the length before anything trusts
 * it, and the two checksums tell a torn final batch/record (crash mid-write)
 * from corruption.
 */
export const MAGIC_BYTES = 8
export const MAGIC_V1 = Buffer.from('SNKVLOG1', 'latin1')
export const MAGIC_V2 = Buffer.from('SNKVLOG2', 'latin1')
/** What every version's magic starts with. */
export const MAGIC_PREFIX = Buffer.from('SNKVLOG', 'latin1')
export const V1_HEADER_BYTES = 12
export const BATCH_HEADER_BYTES = 12
const PAYLOAD_PREFIX = 5
/** op, keyLength, valueLength of a v2 record. */
export const RECORD_HEADER_BYTES = 9

export const OP_PUT = 1
export const OP_DELETE = 2
export type Op = typeof OP_PUT | typeof OP_DELETE

/** One write as the log records it. */
export interface LogRecord {
  op: Op
  /** UTF-8 bytes of the key. */
  key: Buffer
  /** Ignored for deletes. */
  value: Buffer
}

/** A log version as the writer needs it: the magic a new file starts with, and how one batch of writes is encoded. */
export interface LogFormat {
  version: 1 | 2
  magic: Buffer
  /** The buffers one group-commit write appends for `records`. */
  encodeBatch(records: readonly LogRecord[]): Buffer[]
}

export const FORMAT_V1: LogFormat = {
  version: 1,
  magic: MAGIC_V1,
  encodeBatch: (records) => records.map((r) => encodeRecordV1(r.op, r.key, r.value))
}

export const FORMAT_V2: LogFormat = {
  version: 2,
  magic: MAGIC_V2,
  encodeBatch: (records) => [encodeBatchV2(records)]
}

/** Bytes a v2 record for this key/value occupies in its batch. */
export function recordSize(keyBytes: number, valueBytes: number): number {
  return RECORD_HEADER_BYTES + keyBytes + valueBytes
}

/**
 * Encodes `records` as one v2 batch: the records packed into one buffer behind
 * the batch header, checksummed with one native CRC-32 over the body.
 */
export function encodeBatchV2(records: readonly LogRecord[]): Buffer {
  let bodyLength = 0
  for (const r of records) bodyLength += RECORD_HEADER_BYTES + r.key.length + (r.op === OP_PUT ? r.value.length : 0)
  const buf = Buffer.allocUnsafe(BATCH_HEADER_BYTES + bodyLength)
  let at = BATCH_HEADER_BYTES
  for (const r of records) {
    const valueLength = r.op === OP_PUT ? r.value.length : 0
    buf[at] = r.op
    buf.writeUInt32LE(r.key.length, at + 1)
    buf.writeUInt32LE(valueLength, at + 5)
    at += RECORD_HEADER_BYTES
    at += r.key.copy(buf, at)
    if (valueLength > 0) at += r.value.copy(buf, at)
  }
  buf.writeUInt32LE(bodyLength, 0)
  buf.writeUInt32LE(crc(buf, BATCH_HEADER_BYTES, buf.length), 4)
  buf.writeUInt32LE(headerCrc(buf, 0), 8)
  return buf
}

/** Encodes one v1 record; `value` is ignored for deletes. */
export function encodeRecordV1(op: Op, key: Buffer, value: Buffer = EMPTY): Buffer {
  const payloadLength = PAYLOAD_PREFIX + key.length + (op === OP_PUT ? value.length : 0)
  const buf = Buffer.allocUnsafe(V1_HEADER_BYTES + payloadLength)
  buf.writeUInt32LE(payloadLength, 0)
  buf.writeUInt8(op, V1_HEADER_BYTES)
  buf.writeUInt32LE(key.length, V1_HEADER_BYTES + 1)
  key.copy(buf, V1_HEADER_BYTES + PAYLOAD_PREFIX)
  if (op === OP_PUT) value.copy(buf, V1_HEADER_BYTES + PAYLOAD_PREFIX + key.length)
  buf.writeUInt32LE(crc(buf, V1_HEADER_BYTES, buf.length), 4)
  buf.writeUInt32LE(headerCrc(buf, 0), 8)
  return buf
}
const EMPTY = Buffer.alloc(0)

/**
 * Where decodeRecord puts what it read: offsets into the read buffer, reused
 * across calls so replaying a million records allocates nothing per record.
 */
export interface RecordView {
  op: number
  keyStart: number
  keyEnd: number
  /** The value is buf[keyEnd, end). */
  end: number
  /** Why the record is torn or corrupt. */
  reason: string
}

/** decodeRecord outcomes: a record; more bytes needed; a torn tail (drop it); corruption (stop). */
export const DECODED = 0
export const INCOMPLETE = 1
export const TORN = 2
export const CORRUPT = 3

export function newRecordView(): RecordView {
  return { op: 0, keyStart: 0, keyEnd: 0, end: 0, reason: '' }
}

/** Slicing-by-8 tables for zlib's CRC-32 (CRC_TABLES[0] is the classic byte table). */
const CRC_TABLES: Int32Array[] = (() => {
  const t0 = new Int32Array(256).map((_, n) => {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    return c
  })
  const tables = [t0]
  for (let k = 1; k < 8; k++) {
    const prev = tables[k - 1]!
    tables.push(new Int32Array(256).map((_, n) => (prev[n]! >>> 8) ^ t0[prev[n]! & 0xff]!))
  }
  return tables
})()
const [T0, T1, T2, T3, T4, T5, T6, T7] = CRC_TABLES as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array]

/** Above this many bytes zlib's native CRC beats the JS loop despite its call overhead. */
const JS_CRC_MAX_BYTES = 1024

/**
 * zlib's CRC-32 of buf[start, end). A v1 replay checks two per record and
 * most records are small, so for them the per-call overhead of the native
 * version dominated; slicing-by-8 takes eight bytes per step. (v2 checks one
 * per batch, mostly natively.)
 */
export function crc(buf: Buffer, start: number, end: number): number {
  if (end - start > JS_CRC_MAX_BYTES) return crc32(buf.subarray(start, end))
  let c = -1
  let i = start
  for (; i + 8 <= end; i += 8) {
    c ^= buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)
    c = T7[c & 0xff]! ^ T6[(c >>> 8) & 0xff]! ^ T5[(c >>> 16) & 0xff]! ^ T4[c >>> 24]! ^
      T3[buf[i + 4]!]! ^ T2[buf[i + 5]!]! ^ T1[buf[i + 6]!]! ^ T0[buf[i + 7]!]!
  }
  for (; i < end; i++) c = T0[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ -1) >>> 0
}

/** Little-endian u32 at `at`; the caller has checked the bounds (Buffer's reader re-checks them per call). */
export function u32(buf: Buffer, at: number): number {
  return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0
}

function headerCrc(buf: Buffer, offset: number): number {
  return crc(buf, offset, offset + 8)
}

/**
 * Decodes the v1 record at `offset` of `buf` into `out` and returns DECODED,
 * INCOMPLETE, TORN or CORRUPT. `atEof` says that `buf` ends where the file ends,
 * so a record that runs past it is torn rather than merely cut by the read chunk.
 */
export function decodeRecordV1(buf: Buffer, offset: number, atEof: boolean, out: RecordView): number {
  const available = buf.length - offset
  if (available < V1_HEADER_BYTES) {
    if (!atEof) return INCOMPLETE
    out.reason = `partial record header (${available} bytes)`
    return TORN
  }
  if (u32(buf, offset + 8) !== headerCrc(buf, offset)) {
    out.reason = 'record header checksum mismatch'
    // A crash can leave zero-filled blocks at the end of a file; anything else is damage.
    return atEof && buf.subarray(offset).every((b) => b === 0) ? TORN : CORRUPT
  }
  const payloadLength = u32(buf, offset)
  const start = offset + V1_HEADER_BYTES
  const end = start + payloadLength
  if (end > buf.length) {
    if (!atEof) return INCOMPLETE
    out.reason = 'record runs past the end of the log'
    return TORN
  }
  if (u32(buf, offset + 4) !== crc(buf, start, end)) {
    out.reason = 'record payload checksum mismatch'
    return atEof && end === buf.length ? TORN : CORRUPT
  }
  const op = buf[start]!
  const keyLength = payloadLength >= PAYLOAD_PREFIX ? u32(buf, start + 1) : -1
  if ((op !== OP_PUT && op !== OP_DELETE) || keyLength < 0 || PAYLOAD_PREFIX + keyLength > payloadLength) {
    out.reason = 'record fields out of range'
    return CORRUPT
  }
  out.op = op
  out.keyStart = start + PAYLOAD_PREFIX
  out.keyEnd = out.keyStart + keyLength
  out.end = end
  return DECODED
}

/** Where decodeBatch puts what it read: the batch body is buf[start, end). */
export interface BatchView {
  start: number
  end: number
  /** Why the batch is torn or corrupt. */
  reason: string
}

export function newBatchView(): BatchView {
  return { start: 0, end: 0, reason: '' }
}

/**
 * Checks the v2 batch at `offset` of `buf` into `out` and returns DECODED,
 * INCOMPLETE, TORN or CORRUPT. `bytesToEof` is how many bytes the file holds
 * from `offset` on; `buf` may end earlier (a read chunk). A length that runs
 * past the end of the file is torn straight away, so a lying length never
 * makes the caller read or allocate more than the file holds.
 */
export function decodeBatch(buf: Buffer, offset: number, bytesToEof: number, out: BatchView): number {
  const available = buf.length - offset
  const atEof = available >= bytesToEof
  if (available < BATCH_HEADER_BYTES) {
    if (!atEof) return INCOMPLETE
    out.reason = `partial batch header (${available} bytes)`
    return TORN
  }
  if (u32(buf, offset + 8) !== headerCrc(buf, offset)) {
    out.reason = 'batch header checksum mismatch'
    // A crash can leave zero-filled blocks at the end of a file; anything else is damage.
    return atEof && buf.subarray(offset).every((b) => b === 0) ? TORN : CORRUPT
  }
  const total = BATCH_HEADER_BYTES + u32(buf, offset)
  if (total > bytesToEof) {
    out.reason = 'batch runs past the end of the log'
    return TORN
  }
  if (total > available) return INCOMPLETE
  const start = offset + BATCH_HEADER_BYTES
  const end = offset + total
  if (u32(buf, offset + 4) !== crc(buf, start, end)) {
    out.reason = 'batch checksum mismatch'
    return total === bytesToEof ? TORN : CORRUPT
  }
  out.start = start
  out.end = end
  return DECODED
}
