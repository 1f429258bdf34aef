import { crc32 } from 'node:zlib'

/**
 * The on-disk record format of the key-value log.
 *
 * A log file starts with the 8-byte magic `SNKVLOG1`, followed by records:
 *
 *   u32 payloadLength | u32 crc32(payload) | u32 crc32(first 8 header bytes) | payload
 *   payload = u8 op (1 put, 2 delete) | u32 keyLength | key bytes | value bytes
 *
 * Everything is little-endian. Lengths make any byte legal in keys and values;
 * the two checksums tell a torn final record (crash mid-write) from corruption.
 */
export const MAGIC = Buffer.from('SNKVLOG1', 'latin1')
export const HEADER_BYTES = 12
const PAYLOAD_PREFIX = 5

export const OP_PUT = 1
export const OP_DELETE = 2
export type Op = typeof OP_PUT | typeof OP_DELETE

/** Bytes a record for this key/value occupies in the log. */
export function recordSize(keyBytes: number, valueBytes: number): number {
  return HEADER_BYTES + PAYLOAD_PREFIX + keyBytes + valueBytes
}

/** Encodes one record; `value` is ignored for deletes. */
export function encodeRecord(op: Op, key: Buffer, value: Buffer = EMPTY): Buffer {
  const payloadLength = PAYLOAD_PREFIX + key.length + (op === OP_PUT ? value.length : 0)
  const buf = Buffer.allocUnsafe(HEADER_BYTES + payloadLength)
  buf.writeUInt32LE(payloadLength, 0)
  buf.writeUInt8(op, HEADER_BYTES)
  buf.writeUInt32LE(key.length, HEADER_BYTES + 1)
  key.copy(buf, HEADER_BYTES + PAYLOAD_PREFIX)
  if (op === OP_PUT) value.copy(buf, HEADER_BYTES + PAYLOAD_PREFIX + key.length)
  buf.writeUInt32LE(crc32(buf.subarray(HEADER_BYTES)), 4)
  buf.writeUInt32LE(headerCrc(buf, 0), 8)
  return buf
}
const EMPTY = Buffer.alloc(0)

/** One decoded record, as offsets into the read buffer (no copies, no per-field views). */
export interface LogRecord {
  op: Op
  keyStart: number
  keyEnd: number
  /** The value is buf[keyEnd, end). */
  end: number
}

/** Why a record could not be decoded: `torn` may be dropped, `corrupt` must stop start-up. */
export type DecodeProblem = { kind: 'torn' | 'corrupt'; reason: string }

export type DecodeResult =
  | { record: LogRecord; size: number }
  | { incomplete: true }
  | { problem: DecodeProblem }

const CRC_TABLE = new Int32Array(256).map((_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c
})

/**
 * CRC-32 (zlib's) of the 8 header bytes at `offset`, in JS: for 8 bytes a table
 * loop beats a native call plus a Buffer view, and replay does this per record.
 */
function headerCrc(buf: Buffer, offset: number): number {
  let c = -1
  for (let i = offset; i < offset + 8; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ -1) >>> 0
}

/**
 * Decodes the record at `offset` of `buf`. `atEof` says that `buf` ends where the
 * file ends, so a record that runs past it is torn rather than merely cut by the
 * read chunk.
 */
export function decodeRecord(buf: Buffer, offset: number, atEof: boolean): DecodeResult {
  const available = buf.length - offset
  if (available < HEADER_BYTES) {
    return atEof ? { problem: { kind: 'torn', reason: `partial record header (${available} bytes)` } } : { incomplete: true }
  }
  if (buf.readUInt32LE(offset + 8) !== headerCrc(buf, offset)) {
    // A crash can leave zero-filled blocks at the end of a file; anything else is damage.
    const zerosToEnd = atEof && buf.subarray(offset).every((b) => b === 0)
    return { problem: { kind: zerosToEnd ? 'torn' : 'corrupt', reason: 'record header checksum mismatch' } }
  }
  const payloadLength = buf.readUInt32LE(offset)
  const start = offset + HEADER_BYTES
  const end = start + payloadLength
  if (end > buf.length) {
    return atEof ? { problem: { kind: 'torn', reason: 'record runs past the end of the log' } } : { incomplete: true }
  }
  if (buf.readUInt32LE(offset + 4) !== crc32(buf.subarray(start, end))) {
    const last = atEof && end === buf.length
    return { problem: { kind: last ? 'torn' : 'corrupt', reason: 'record payload checksum mismatch' } }
  }
  const op = buf[start]
  const keyLength = payloadLength >= PAYLOAD_PREFIX ? buf.readUInt32LE(start + 1) : -1
  if ((op !== OP_PUT && op !== OP_DELETE) || keyLength < 0 || PAYLOAD_PREFIX + keyLength > payloadLength) {
    return { problem: { kind: 'corrupt', reason: 'record fields out of range' } }
  }
  const keyStart = start + PAYLOAD_PREFIX
  return { record: { op, keyStart, keyEnd: keyStart + keyLength, end }, size: end - offset }
}
