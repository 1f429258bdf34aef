/**
 * The file store's live data: an open-addressing hash table keyed on the key's
 * UTF-8 bytes, holding one entry (key bytes, value) per key seen since it was
 * built (by a replay, or by a compaction copying the live entries).
 *
 * Why not a Map<string, Buffer>: replaying a log into a Map needs a JS string
 * per record (a UTF-8 decode and an allocation) and a generic lookup; for a
 * million-record log that was most of the start-up time. Here replay costs a
 * hash over the key bytes and a probe in typed arrays per record, and the
 * key/value views are made once per live key at the end (`fromReplay`).
 * Deleting keeps the entry with no value, so slots never need tombstones.
 */
export class KeyTable {
  /** Entry number + 1 per slot; 0 = empty. */
  private slots: Int32Array
  private hashes: Int32Array
  private mask: number
  private keys: Buffer[] = []
  private values: Array<Buffer | undefined> = []
  private live = 0
  private dataBytes = 0
  /** Where copyIn packs keys and values, and how many bytes it still expects. */
  private slab = EMPTY
  private slabUsed = 0
  private expectedCopyBytes = 0

  constructor (initialCapacity = 1 << 16) {
    this.slots = new Int32Array(initialCapacity)
    this.hashes = new Int32Array(initialCapacity)
    this.mask = initialCapacity - 1
  }

  /** An empty table with room for `keys` keys, about to be filled by copyIn with about `bytes` of keys + values. */
  static sized(keys: number, bytes: number): KeyTable {
    const table = new KeyTable(capacityFor(keys))
    table.expectedCopyBytes = bytes
    return table
  }

  /** Number of keys with a value. */
  get size(): number {
    return this.live
  }

  /** Bytes of the keys and values of live entries. */
  get liveDataBytes(): number {
    return this.dataBytes
  }

  get(key: Buffer): Buffer | undefined {
    const entry = this.find(key, 0, key.length, hashBytes(key, 0, key.length))
    return entry < 0 ? undefined : this.values[entry]
  }

  /** Stores `value` under `key`; returns the value it replaces. */
  set(key: Buffer, value: Buffer): Buffer | undefined {
    const hash = hashBytes(key, 0, key.length)
    let entry = this.find(key, 0, key.length, hash)
    if (entry < 0) entry = this.insert(hash, key)
    const old = this.values[entry]
    this.values[entry] = value
    if (old === undefined) {
      this.live++
      this.dataBytes += key.length
    } else {
      this.dataBytes -= old.length
    }
    this.dataBytes += value.length
    return old
  }

  /**
   * Like set, but stores copies of `key` and `value` packed into memory of the
   * table's own, so the table keeps nothing else alive (not the replay chunks
   * or request bodies they may be views of).
   */
  copyIn(key: Buffer, value: Buffer): void {
    this.set(this.copy(key), this.copy(value))
  }

  /** Removes the value of `key`; returns it. */
  delete(key: Buffer): Buffer | undefined {
    const entry = this.find(key, 0, key.length, hashBytes(key, 0, key.length))
    if (entry < 0) return undefined
    const old = this.values[entry]
    this.values[entry] = undefined
    if (old !== undefined) {
      this.live--
      this.dataBytes -= key.length + old.length
    }
    return old
  }

  /** Live [key bytes, value] pairs; entries added while iterating may or may not be visited. */
  * entries(): IterableIterator<[Buffer, Buffer]> {
    for (let i = 0; i < this.keys.length; i++) {
      const value = this.values[i]
      if (value !== undefined) yield [this.keys[i]!, value]
    }
  }

  /**
   * Bytes of the memory blocks (ArrayBuffers) that the table's keys and values
   * keep alive, each counted once: far more than liveDataBytes when the table
   * holds views into large buffers that are mostly dead data.
   */
  retainedBytes(): number {
    const seen = new Set<ArrayBufferLike>()
    let total = 0
    const count = (b: Buffer | undefined): void => {
      if (b === undefined || seen.has(b.buffer)) return
      seen.add(b.buffer)
      total += b.buffer.byteLength
    }
    for (const key of this.keys) count(key)
    for (const value of this.values) count(value)
    return total
  }

  /**
   * Builds the table from a replayed log without a Buffer per record: `records`
   * says where each record's key and value are and whether it deletes.
   */
  static fromReplay(records: ReplayRecords, chunks: Buffer[]): KeyTable {
    // Keys <= records, and most logs overwrite: room for half as many keys as records
    // means most never grow the table while replaying.
    const table = new KeyTable(capacityFor(records.length / 2))
    let used = 0
    // First pass: each key's slot points at its latest record number (+1).
    for (let n = 0; n < records.length; n++) {
      const buf = chunks[records.chunk[n]!]!
      const start = records.keyStart[n]!
      const end = records.keyEnd[n]!
      const hash = hashBytes(buf, start, end)
      let i = hash & table.mask
      for (;;) {
        const slot = table.slots[i]!
        if (slot === 0) {
          table.slots[i] = n + 1
          table.hashes[i] = hash
          if (++used * 2 > table.slots.length) table.grow()
          break
        }
        if (table.hashes[i] === hash) {
          const m = slot - 1
          if (bytesEqual(buf, start, end, chunks[records.chunk[m]!]!, records.keyStart[m]!, records.keyEnd[m]!)) {
            table.slots[i] = n + 1
            break
          }
        }
        i = (i + 1) & table.mask
      }
    }
    // Second pass: turn record numbers into entries with key/value views.
    for (let i = 0; i < table.slots.length; i++) {
      const slot = table.slots[i]!
      if (slot === 0) continue
      const n = slot - 1
      const buf = chunks[records.chunk[n]!]!
      const keyEnd = records.keyEnd[n]!
      table.slots[i] = table.keys.push(buf.subarray(records.keyStart[n]!, keyEnd))
      const value = records.isPut[n] ? buf.subarray(keyEnd, records.end[n]!) : undefined
      table.values.push(value)
      if (value !== undefined) {
        table.live++
        table.dataBytes += keyEnd - records.keyStart[n]! + value.length
      }
    }
    return table
  }

  private copy(src: Buffer): Buffer {
    if (src.length > SLAB_BYTES / 4) {
      const own = Buffer.allocUnsafeSlow(src.length)
      src.copy(own)
      return own
    }
    if (this.slab.length - this.slabUsed < src.length) {
      // Sized to what is still expected, so a small table does not sit on a mostly empty slab.
      const size = this.expectedCopyBytes > 0 ? Math.min(SLAB_BYTES, this.expectedCopyBytes) : MIN_SLAB_BYTES
      this.slab = Buffer.allocUnsafeSlow(Math.max(src.length, size))
      this.slabUsed = 0
    }
    const out = this.slab.subarray(this.slabUsed, this.slabUsed + src.length)
    src.copy(out)
    this.slabUsed += src.length
    this.expectedCopyBytes -= src.length
    return out
  }

  private find(key: Buffer, start: number, end: number, hash: number): number {
    for (let i = hash & this.mask; ; i = (i + 1) & this.mask) {
      const slot = this.slots[i]!
      if (slot === 0) return -1
      if (this.hashes[i] === hash) {
        const other = this.keys[slot - 1]!
        if (bytesEqual(key, start, end, other, 0, other.length)) return slot - 1
      }
    }
  }

  private insert(hash: number, key: Buffer): number {
    let i = hash & this.mask
    while (this.slots[i] !== 0) i = (i + 1) & this.mask
    const entry = this.keys.push(key) - 1
    this.values.push(undefined)
    this.slots[i] = entry + 1
    this.hashes[i] = hash
    if (this.keys.length * 2 > this.slots.length) this.grow()
    return entry
  }

  private grow(): void {
    const { slots, hashes } = this
    this.slots = new Int32Array(slots.length * 2)
    this.hashes = new Int32Array(slots.length * 2)
    this.mask = this.slots.length - 1
    for (let j = 0; j < slots.length; j++) {
      if (slots[j] === 0) continue
      let i = hashes[j]! & this.mask
      while (this.slots[i] !== 0) i = (i + 1) & this.mask
      this.slots[i] = slots[j]!
      this.hashes[i] = hashes[j]!
    }
  }
}

const EMPTY = Buffer.alloc(0)
/** copyIn packs keys and values into blocks of up to this size (larger values get their own). */
const SLAB_BYTES = 1024 * 1024
/** ... and once more arrives than expected, into blocks of at least this size. */
const MIN_SLAB_BYTES = 64 * 1024

/** A power-of-two slot count that holds `keys` keys at most half full, so they need no growing. */
function capacityFor(keys: number): number {
  return Math.max(1 << 16, 2 ** Math.ceil(Math.log2(2 * keys + 1)))
}

/** Where replay found each record: chunk index, key and value bounds, and whether it is a PUT. */
export interface ReplayRecords {
  length: number
  isPut: Uint8Array
  chunk: Int32Array
  keyStart: Int32Array
  keyEnd: Int32Array
  end: Int32Array
}

/** A multiplicative hash taking four bytes per step (murmur3's mixing constants). */
function hashBytes(buf: Buffer, start: number, end: number): number {
  let h = 0x811c9dc5 ^ (end - start)
  let i = start
  for (; i + 4 <= end; i += 4) {
    const k = Math.imul(buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24), 0xcc9e2d51)
    h = Math.imul(h ^ ((k << 15) | (k >>> 17)), 0x1b873593)
    h = (h << 13) | (h >>> 19)
  }
  for (; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  return h ^ (h >>> 13)
}

function bytesEqual(a: Buffer, aStart: number, aEnd: number, b: Buffer, bStart: number, bEnd: number): boolean {
  if (aEnd - aStart !== bEnd - bStart) return false
  for (let i = 0; i < aEnd - aStart; i++) if (a[aStart + i] !== b[bStart + i]) return false
  return true
}
