/**
 * The file store's live data: an open-addressing hash table keyed on the key's
 * UTF-8 bytes, holding one entry per key seen since it was built (by a replay,
 * or by a compaction copying the live entries).
 *
 * Why not a Map<string, Buffer>: replaying a log into a Map needs a JS string
 * per record (a UTF-8 decode and an allocation) and a generic lookup; for a
 * million-record log that was most of the start-up time. Here replay costs a
 * hash over the key bytes and a probe in typed arrays per record.
 *
 * Entries are locations (block, start, length) in one typed array, not
 * Buffers: a Buffer view is a heap object of about 100 bytes, and making two
 * per key after a replay took longer than decoding the log, most of it in the
 * garbage collector. get() makes the view a caller asks for. Values given to
 * set() are kept as they are. Deleting keeps the entry with no value, so slots
 * never need tombstones.
 *
 * Memory layout, for a replay that probes the table once per record at random:
 * a slot is its entry and its hash side by side, and an entry's fields are 8
 * consecutive ints, so a probe touches about two cache lines (slot, entry)
 * besides the key bytes, where one array per field touched one line per field.
 */
export class KeyTable {
  /** Per slot: entry number + 1 (0 = empty), then the key's hash. */
  private slots: Int32Array
  private mask: number
  /** What entries point into: copyIn's slabs, replay's key slabs and value block, keys given to set(). */
  private blocks: Buffer[] = []
  private entryCount = 0
  /** ENTRY_INTS ints per entry: see the field offsets below. */
  private fields: Int32Array
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
    this.slots = new Int32Array(2 * initialCapacity)
    this.mask = initialCapacity - 1
    this.fields = new Int32Array(entryCapacity * ENTRY_INTS)
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
    if (entry < 0) entry = this.insert(hash, this.copy(key, 0, key.length), this.copiedAt, key.length)
    else this.clear(entry)
    const e = entry * ENTRY_INTS
    this.fields[e + VALUE_BLOCK] = this.copy(value, 0, value.length)
    this.fields[e + VALUE_START] = this.copiedAt
    this.fields[e + VALUE_LENGTH] = value.length
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
      if (value !== undefined) yield [this.key(entry), value]
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
      const e = entry * ENTRY_INTS
      count(this.blocks[this.fields[e + KEY_BLOCK]!])
      const block = this.fields[e + VALUE_BLOCK]!
      count(block === NO_BLOCK ? this.owned[entry] : this.blocks[block])
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

  /**
   * Replay, first pass: applies a record whose key is buf[keyStart, keyEnd)
   * (a read buffer the caller reuses) and whose value, for a PUT, is
   * `valueLength` bytes at `valueOffset` of the log file. A new key is copied
   * into the table's own memory; the value is only noted, and loaded by
   * loadValues once the last record of every key is known, so the values that
   * later records overwrite or delete are never copied.
   */
  replayRecord(buf: Buffer, keyStart: number, keyEnd: number, isPut: boolean, valueOffset: number, valueLength: number): void {
    const hash = hashBytes(buf, keyStart, keyEnd)
    let entry = this.find(buf, keyStart, keyEnd, hash)
    if (entry < 0) {
      const block = this.copy(buf, keyStart, keyEnd)
      entry = this.insert(hash, block, this.copiedAt, keyEnd - keyStart)
    } else {
      this.clear(entry)
    }
    if (!isPut) return
    const e = entry * ENTRY_INTS
    this.fields[e + VALUE_BLOCK] = PENDING
    // The file offset as two ints: a log may pass 2 GiB.
    this.fields[e + VALUE_START] = valueOffset % TWO_32
    this.fields[e + VALUE_OFFSET_HIGH] = Math.floor(valueOffset / TWO_32)
    this.fields[e + VALUE_LENGTH] = valueLength
    this.live++
    this.dataBytes += keyEnd - keyStart + valueLength
  }

  /**
   * Replay, second pass: the live values, read by `read(position, length)`
   * (which resolves with a buffer holding those bytes of the log, valid until
   * its next call) in file order, about `rangeBytes` of the file at a time,
   * into one block of the table's own.
   */
  async loadValues(rangeBytes: number, read: (position: number, length: number) => Promise<Buffer>): Promise<void> {
    const { fields } = this
    const offset = (e: number): number => fields[e + VALUE_OFFSET_HIGH]! * TWO_32 + (fields[e + VALUE_START]! >>> 0)
    // The live entries by the range of the file their value starts in (a counting sort: no comparisons).
    let total = 0
    let last = 0
    for (let e = 0; e < this.entryCount * ENTRY_INTS; e += ENTRY_INTS) {
      if (fields[e + VALUE_BLOCK] !== PENDING) continue
      total += fields[e + VALUE_LENGTH]!
      last = Math.max(last, offset(e))
    }
    const ranges = Math.floor(last / rangeBytes) + 1
    const firstOf = new Int32Array(ranges + 1)
    for (let e = 0; e < this.entryCount * ENTRY_INTS; e += ENTRY_INTS) {
      if (fields[e + VALUE_BLOCK] === PENDING) firstOf[Math.floor(offset(e) / rangeBytes) + 1]!++
    }
    for (let r = 0; r < ranges; r++) firstOf[r + 1]! += firstOf[r]!
    const byRange = new Int32Array(firstOf[ranges]!)
    const next = firstOf.slice(0, ranges)
    for (let e = 0; e < this.entryCount * ENTRY_INTS; e += ENTRY_INTS) {
      if (fields[e + VALUE_BLOCK] === PENDING) byRange[next[Math.floor(offset(e) / rangeBytes)]!++] = e
    }

    const values = Buffer.allocUnsafeSlow(total)
    const block = this.blocks.push(values) - 1
    let at = 0
    for (let r = 0; r < ranges; r++) {
      const from = firstOf[r]!
      const to = firstOf[r + 1]!
      if (from === to) continue
      // From the first value starting in this range to the end of the last one (which may run past the range).
      let start = Infinity
      let end = 0
      for (let i = from; i < to; i++) {
        const e = byRange[i]!
        start = Math.min(start, offset(e))
        end = Math.max(end, offset(e) + fields[e + VALUE_LENGTH]!)
      }
      const buf = await read(start, end - start)
      for (let i = from; i < to; i++) {
        const e = byRange[i]!
        const length = fields[e + VALUE_LENGTH]!
        copyBytes(buf, offset(e) - start, length, values, at)
        fields[e + VALUE_BLOCK] = block
        fields[e + VALUE_START] = at
        fields[e + VALUE_OFFSET_HIGH] = 0
        at += length
      }
    }
  }

  private key(entry: number): Buffer {
    const e = entry * ENTRY_INTS
    const start = this.fields[e + KEY_START]!
    return this.blocks[this.fields[e + KEY_BLOCK]!]!.subarray(start, start + this.fields[e + KEY_LENGTH]!)
  }

  private value(entry: number): Buffer | undefined {
    const e = entry * ENTRY_INTS
    const block = this.fields[e + VALUE_BLOCK]!
    if (block === NO_BLOCK) return this.owned[entry]
    const start = this.fields[e + VALUE_START]!
    return this.blocks[block]!.subarray(start, start + this.fields[e + VALUE_LENGTH]!)
  }

  /** Drops the entry's value, if any. */
  private clear(entry: number): void {
    const e = entry * ENTRY_INTS
    const block = this.fields[e + VALUE_BLOCK]!
    let length: number
    if (block === NO_BLOCK) {
      const owned = this.owned[entry]
      if (owned === undefined) return
      length = owned.length
      this.owned[entry] = undefined
    } else {
      length = this.fields[e + VALUE_LENGTH]!
      this.fields[e + VALUE_BLOCK] = NO_BLOCK
    }
    this.live--
    this.dataBytes -= this.fields[e + KEY_LENGTH]! + length
  }

  /** Copies src[start, end) into table-owned memory; returns the block, and leaves the offset in copiedAt. */
  private copy(src: Buffer, start: number, end: number): number {
    const length = end - start
    if (length > SLAB_BYTES / 4) {
      const own = Buffer.allocUnsafeSlow(length)
      src.copy(own, 0, start, end)
      this.copiedAt = 0
      return this.blocks.push(own) - 1
    }
    if (this.slab.length - this.slabUsed < length) {
      // Sized to what is still expected, so a small table does not sit on a mostly empty slab.
      const size = this.expectedCopyBytes > 0 ? Math.min(SLAB_BYTES, this.expectedCopyBytes) : MIN_SLAB_BYTES
      this.slab = Buffer.allocUnsafeSlow(Math.max(length, size))
      this.slabBlock = this.blocks.push(this.slab) - 1
      this.slabUsed = 0
    }
    copyBytes(src, start, length, this.slab, this.slabUsed)
    this.copiedAt = this.slabUsed
    this.slabUsed += length
    this.expectedCopyBytes -= length
    return this.slabBlock
  }

  private find(key: Buffer, start: number, end: number, hash: number): number {
    const { slots, fields } = this
    for (let i = hash & this.mask; ; i = (i + 1) & this.mask) {
      const slot = slots[2 * i]!
      if (slot === 0) return -1
      if (slots[2 * i + 1] === hash) {
        const e = (slot - 1) * ENTRY_INTS
        const at = fields[e + KEY_START]!
        if (bytesEqual(key, start, end, this.blocks[fields[e + KEY_BLOCK]!]!, at, at + fields[e + KEY_LENGTH]!)) return slot - 1
      }
    }
  }

  /** Adds an entry, with no value yet, for the key at `start` of block `block`. */
  private insert(hash: number, block: number, start: number, length: number): number {
    let i = hash & this.mask
    while (this.slots[2 * i] !== 0) i = (i + 1) & this.mask
    if ((this.entryCount + 1) * ENTRY_INTS > this.fields.length) this.growEntries(Math.max(1024, this.entryCount * 2))
    const entry = this.entryCount++
    const e = entry * ENTRY_INTS
    this.fields[e + KEY_BLOCK] = block
    this.fields[e + KEY_START] = start
    this.fields[e + KEY_LENGTH] = length
    this.fields[e + VALUE_BLOCK] = NO_BLOCK
    this.owned.push(undefined)
    this.slots[2 * i] = entry + 1
    this.slots[2 * i + 1] = hash
    if (this.entryCount * 2 > this.mask + 1) this.grow()
    return entry
  }

  private growEntries(capacity: number): void {
    const fields = new Int32Array(capacity * ENTRY_INTS)
    fields.set(this.fields.subarray(0, this.entryCount * ENTRY_INTS))
    this.fields = fields
  }

  private grow(): void {
    const old = this.slots
    const capacity = 2 * (this.mask + 1)
    this.slots = new Int32Array(2 * capacity)
    this.mask = capacity - 1
    for (let j = 0; j < old.length; j += 2) {
      if (old[j] === 0) continue
      let i = old[j + 1]! & this.mask
      while (this.slots[2 * i] !== 0) i = (i + 1) & this.mask
      this.slots[2 * i] = old[j]!
      this.slots[2 * i + 1] = old[j + 1]!
    }
  }
}

/** Fields of an entry, ints from its start. */
const KEY_BLOCK = 0
const KEY_START = 1
const KEY_LENGTH = 2
/** The value's block; NO_BLOCK: the value is in `owned` (or there is none); PENDING: replay has not loaded it yet. */
const VALUE_BLOCK = 3
/** The value's start in its block; while PENDING, the low 32 bits of its offset in the log file. */
const VALUE_START = 4
const VALUE_LENGTH = 5
/** While PENDING, the rest of the value's offset in the log file. */
const VALUE_OFFSET_HIGH = 6
const ENTRY_INTS = 8
const NO_BLOCK = -1
const PENDING = -2
const TWO_32 = 2 ** 32

const EMPTY = Buffer.alloc(0)
/** copyIn packs keys and values into blocks of up to this size (larger values get their own). */
const SLAB_BYTES = 1024 * 1024
/** ... and once more arrives than expected, into blocks of at least this size. */
const MIN_SLAB_BYTES = 64 * 1024
/** Below this many bytes a loop copies faster than Buffer#copy, whose call overhead dominates small keys and values. */
const LOOP_COPY_MAX = 64

/** A power-of-two slot count that holds `keys` keys at most half full, so they need no growing. */
function capacityFor(keys: number): number {
  return Math.max(1 << 16, 2 ** Math.ceil(Math.log2(2 * keys + 1)))
}

function copyBytes(src: Buffer, start: number, length: number, dst: Buffer, at: number): void {
  if (length > LOOP_COPY_MAX) {
    src.copy(dst, at, start, start + length)
    return
  }
  for (let i = 0; i < length; i++) dst[at + i] = src[start + i]!
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
