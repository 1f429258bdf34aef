import { randomBytes } from 'node:crypto'
import { deflateSync } from 'node:zlib'

/** A multipart/form-data body with one file part (and optional text fields before it). */
export function multipart(
  file: { field?: string; filename?: string; contentType?: string; data: Buffer },
  fields: Record<string, string> = {}
): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----socialnet${randomBytes(8).toString('hex')}`
  const chunks: Buffer[] = []
  for (const [name, value] of Object.entries(fields)) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`))
  }
  chunks.push(Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${file.field ?? 'image'}"; filename="${file.filename ?? 'avatar.jpg'}"\r\n` +
    `Content-Type: ${file.contentType ?? 'application/octet-stream'}\r\n\r\n`
  ))
  chunks.push(file.data, Buffer.from(`\r\n--${boundary}--\r\n`))
  const payload = Buffer.concat(chunks)
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(payload.length) } }
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([length, body, crc])
}

function crc32(data: Buffer): number {
  let crc = 0xffffffff
  for (const byte of data) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1))
  }
  return (crc ^ 0xffffffff) >>> 0
}

/**
 * A valid all-black 1-bit greyscale PNG of any shape, tiny on disk whatever
 * its pixel count: `blankPng(1, 39_000_000)` is the thin strip that once held
 * an encode slot for 15 s.
 */
export function blankPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 1 // bit depth
  ihdr[9] = 0 // greyscale
  const rowBytes = 1 + Math.ceil(width / 8) // filter byte 0 + zero pixels
  const raw = Buffer.alloc(rowBytes * height)
  const idat = deflateSync(raw, { level: 9 })
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', Buffer.alloc(0))
  ])
}
