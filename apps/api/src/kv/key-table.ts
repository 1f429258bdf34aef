/**
 * The file store's live data: an open-addressing hash table keyed on the key's
 * UTF-8 bytes, holding one entry per key seen since it was built (by a replay,
 * or by a compaction copying the live entries).
 *
 * Why not a Map<string, Buffer>: replaying a log into a Map needs a JS string
 * per record (a UTF-8 decode and an allocation) and a generic lookup; for a
 * million-record log that was most of the start-up time. Here replay costs a
 * hash over the key bytes and a probe in typed arrays per record, while the
 * record is still in the CPU cache from its checksum.
 *
 * Entries are locations (block, start, length) in typed arrays, not Buffers:
 * a Buffer view is a heap object of about 100 bytes, and making two per key
 * after a replay took longer than decoding the log, most of it in the garbage
 * collector. get() makes the view a caller asks for. Values given to set()
 * are kept as they are. Deleting keeps the entry with no value, so slots never
 * need tombstones.
 */
export class KeyTable {
  /** Entry number + 1 per slot; 0 = empty. */
  private slots: Int32Array
  private hashes: Int32Array
  private mask: number
  /** What entries point into: replay chunks, copyIn's slabs, keys given to set(). */
  private blocks: Buffer[] = []
  private entryCount = 0
  private keyBlock: Int32Array
  private keyStart: Int32Array
  private keyLength: Int32Array
  /** The value's block, or -1: then the value is in `owned` (or there is none). */
  private valueBlock: Int32Array
  private valueStart: Int32Array
  private valueLength: Int32Array
  /** Values given to set(), by entry. */
  private owned: Array<Buffer | undefined> = []
  private live = 0
  private dataBytes = 0
  /** Where copyIn packs keys and values, and how many bytes it still expects. */
  private slab = EMPTY
  private slabBlock = -1
  private slabUsed = 0
  private expectedCopyBytes = 0
  /** Where copy() put its bytes in the block it returned. */
  private copiedAt = 0

  constructor(initialCapacity = 1 << 16, entryCapacity = 1024) {
    this.slots = new Int32Array(initialCapacity)
    this.hashes = new Int32Array(initialCapacity)
    this.mask = initialCapacity - 1
    this.keyBlock = new Int32Array(entryCapacity)
    this.keyStart = new Int32Array(entryCapacity)
    this.keyLength = new Int32Array(entryCapacity)
    this.valueBlock = new Int32Array(entryCapacity)
    this.valueStart = new Int32Array(entryCapacity)
    this.valueLength = new Int32Array(entryCapacity)
  }

  /** An empty table with room for `keys` keys, about to be filled by copyIn with about `bytes` of keys + values. */
  static sized(keys: number, bytes: number): KeyTable {
    const table = new KeyTable(capacityFor(keys), Math.max(keys, 1024))
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
    return entry < 0 ? undefined : this.value(entry)
  }

  /** Stores `value` (itself, not a copy) under `key`. */
  set(key: Buffer, value: Buffer): void {
    const hash = hashBytes(key, 0, key.length)
    let entry = this.find(key, 0, key.length, hash)
    if (entry < 0) entry = this.insert(hash, this.blocks.push(key) - 1, 0, key.length)
    else this.clear(entry)
    this.owned[entry] = value
    this.live++
    this.dataBytes += key.length + value.length
  }

  /**
   * Like set, but stores copies of `key` and `value` packed into memory of the
   * table's own, so the table keeps nothing else alive (not the replay chunks
   * or request bodies they may be views of).
   */
  copyIn(key: Buffer, value: Buffer): void {
    const hash = hashBytes(key, 0, key.length)
    let entry = this.find(key, 0, key.length, hash)
    if (entry < 0) entry = this.insert(hash, this.copy(key), this.copiedAt, key.length)
    else this.clear(entry)
    this.valueBlock[entry] = this.copy(value)
    this.valueStart[entry] = this.copiedAt
    this.valueLength[entry] = value.length
    this.live++
    this.dataBytes += key.length + value.length
  }

  /** Removes the value of `key`, if it has one. */
  delete(key: Buffer): void {
    const entry = this.find(key, 0, key.length, hashBytes(key, 0, key.length))
    if (entry >= 0) this.clear(entry)
  }

  /** Live [key bytes, value] pairs; entries added while iterating may or may not be visited. */
  * entries(): IterableIterator<[Buffer, Buffer]> {
    for (let entry = 0; entry < this.entryCount; entry++) {
      const value = this.value(entry)
      if (value !== undefined) {
        const start = this.keyStart[entry]!
        yield [this.blocks[this.keyBlock[entry]!]!.subarray(start, start + this.keyLength[entry]!), value]
      }
    }
  }

  /**
   * Bytes of the memory blocks (ArrayBuffers) that the table's keys and values
   * keep alive, each counted once: far more than liveDataBytes when the table
   * points into large buffers that are mostly dead data.
   */
  retainedBytes(): number {
    const seen = new Set<ArrayBufferLike>()
    let total = 0
    const count = (b: Buffer | undefined): void => {
      if (b === undefined || seen.has(b.buffer)) return
      seen.add(b.buffer)
      total += b.buffer.byteLength
    }
    for (let entry = 0; entry < this.entryCount; entry++) {
      count(this.blocks[this.keyBlock[entry]!])
      const block = this.valueBlock[entry]!
      count(block < 0 ? this.owned[entry] : this.blocks[block])
    }
    return total
  }

  /** An empty table to replay a log of `logBytes` into. */
  static forReplay(logBytes: number): KeyTable {
    // Sized low (a key per KiB of log) and grown as needed: growing costs less than probing
    // a table several times too large, whose slots no longer fit in the CPU cache.
    const keys = logBytes / 1024
    return new KeyTable(capacityFor(keys), Math.max(1024, 2 ** Math.ceil(Math.log2(keys + 1))))
  }

  /** Adds a buffer that replayed records point into; returns its block number for replay(). */
  addBlock(buf: Buffer): number {
    return this.blocks.push(buf) - 1
  }

  /**
   * Applies a replayed record without making a Buffer: its key is at
   * [keyStart, keyEnd) of block `block`, its value (for a PUT) up to `end`.
   * The key's entry then points at this record, key included, so the blocks
   * of older records can be dropped once nothing points into them.
   */
  replay(block: number, keyStart: number, keyEnd: number, end: number, isPut: boolean): void {
    const buf = this.blocks[block]!
    const hash = hashBytes(buf, keyStart, keyEnd)
    let entry = this.find(buf, keyStart, keyEnd, hash)
    if (entry < 0) {
      entry = this.insert(hash, block, keyStart, keyEnd - keyStart)
    } else {
      this.clear(entry)
      this.keyBlock[entry] = block
      this.keyStart[entry] = keyStart
    }
    if (!isPut) return
    this.valueBlock[entry] = block
    this.valueStart[entry] = keyEnd
    this.valueLength[entry] = end - keyEnd
    this.live++
    this.dataBytes += end - keyStart
  }

  /** After a replay: lets go of the blocks that no entry points into any more. */
  dropUnusedBlocks(): void {
    const renumbered = new Int32Array(this.blocks.length).fill(-1)
    const kept: Buffer[] = []
    const keep = (block: number): number => {
      if (renumbered[block]! < 0) renumbered[block] = kept.push(this.blocks[block]!) - 1
      return renumbered[block]!
    }
    for (let entry = 0; entry < this.entryCount; entry++) {
      this.keyBlock[entry] = keep(this.keyBlock[entry]!)
      const block = this.valueBlock[entry]!
      if (block >= 0) this.valueBlock[entry] = keep(block)
    }
    this.blocks = kept
  }

  private value(entry: number): Buffer | undefined {
    const block = this.valueBlock[entry]!
    if (block < 0) return this.owned[entry]
    const start = this.valueStart[entry]!
    return this.blocks[block]!.subarray(start, start + this.valueLength[entry]!)
  }

  /** Drops the entry's value, if any. */
  private clear(entry: number): void {
    const block = this.valueBlock[entry]!
    const owned = this.owned[entry]
    if (block < 0 && owned === undefined) return
    this.live--
    this.dataBytes -= this.keyLength[entry]! + (block < 0 ? owned!.length : this.valueLength[entry]!)
    this.valueBlock[entry] = -1
    this.owned[entry] = undefined
  }

  /** Copies `src` into table-owned memory; returns the block, and leaves the offset in copiedAt. */
  private copy(src: Buffer): number {
    if (src.length > SLAB_BYTES / 4) {
      const own = Buffer.allocUnsafeSlow(src.length)
      src.copy(own)
      this.copiedAt = 0
      return this.blocks.push(own) - 1
    }
    if (this.slab.length - this.slabUsed < src.length) {
      // Sized to what is still expected, so a small table does not sit on a mostly empty slab.
      const size = this.expectedCopyBytes > 0 ? Math.min(SLAB_BYTES, this.expectedCopyBytes) : MIN_SLAB_BYTES
      this.slab = Buffer.allocUnsafeSlow(Math.max(src.length, size))
      this.slabBlock = this.blocks.push(this.slab) - 1
      this.slabUsed = 0
    }
    src.copy(this.slab, this.slabUsed)
    this.copiedAt = this.slabUsed
    this.slabUsed += src.length
    this.expectedCopyBytes -= src.length
    return this.slabBlock
  }

  private find(key: Buffer, start: number, end: number, hash: number): number {
    for (let i = hash & this.mask; ; i = (i + 1) & this.mask) {
      const slot = this.slots[i]!
      if (slot === 0) return -1
      if (this.hashes[i] === hash) {
        const entry = slot - 1
        const at = this.keyStart[entry]!
        if (bytesEqual(key, start, end, this.blocks[this.keyBlock[entry]!]!, at, at + this.keyLength[entry]!)) return entry
      }
    }
  }

  /** Adds an entry, with no value yet, for the key at `start` of block `block`. */
  private insert(hash: number, block: number, start: number, length: number): number {
    let i = hash & this.mask
    while (this.slots[i] !== 0) i = (i + 1) & this.mask
    if (this.entryCount === this.keyBlock.length) this.growEntries(Math.max(1024, this.entryCount * 2))
    const entry = this.entryCount++
    this.keyBlock[entry] = block
    this.keyStart[entry] = start
    this.keyLength[entry] = length
    this.valueBlock[entry] = -1
    this.owned.push(undefined)
    this.slots[i] = entry + 1
    this.hashes[i] = hash
    if (this.entryCount * 2 > this.slots.length) this.grow()
    return entry
  }

  private growEntries(capacity: number): void {
    const resize = (a: Int32Array): Int32Array => {
      const b = new Int32Array(capacity)
      b.set(a.subarray(0, this.entryCount))
      return b
    }
    this.keyBlock = resize(this.keyBlock)
    this.keyStart = resize(this.keyStart)
    this.keyLength = resize(this.keyLength)
    this.valueBlock = resize(this.valueBlock)
    this.valueStart = resize(this.valueStart)
    this.valueLength = resize(this.valueLength)
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
