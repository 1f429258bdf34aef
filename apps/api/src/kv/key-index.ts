/**
 * An open-addressing hash table from key bytes to the number of the latest log
 * record for that key, used only while replaying the log.
 *
 * Why not a Map<string, number>: that needs a JS string per record (a UTF-8
 * decode and an allocation) and a lookup in V8's generic table; for a
 * million-record log that was most of the replay time. Here a record costs a
 * hash over its key bytes and a probe in typed arrays, and strings are made
 * once per live key at the end.
 */
export class KeyIndex {
  /** Record number + 1 per slot; 0 = empty. */
  private slots: Int32Array
  private hashes: Int32Array
  private mask: number
  private used = 0

  constructor (
    /** Resolves a record number to its key bytes: [buffer, start, end]. */
    private readonly keyOf: (record: number) => [Buffer, number, number],
    initialCapacity = 1 << 16
  ) {
    this.slots = new Int32Array(initialCapacity)
    this.hashes = new Int32Array(initialCapacity)
    this.mask = initialCapacity - 1
  }

  /** Points the key buf[start, end) at `record`, replacing what it pointed at. */
  set(buf: Buffer, start: number, end: number, record: number): void {
    const hash = hashBytes(buf, start, end)
    for (let i = hash & this.mask; ; i = (i + 1) & this.mask) {
      const slot = this.slots[i]!
      if (slot === 0) {
        this.slots[i] = record + 1
        this.hashes[i] = hash
        if (++this.used * 2 > this.slots.length) this.grow()
        return
      }
      if (this.hashes[i] === hash) {
        const [other, otherStart, otherEnd] = this.keyOf(slot - 1)
        if (bytesEqual(buf, start, end, other, otherStart, otherEnd)) {
          this.slots[i] = record + 1
          return
        }
      }
    }
  }

  /** Calls `fn` with the latest record number of every key. */
  forEach(fn: (record: number) => void): void {
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[i]!
      if (slot !== 0) fn(slot - 1)
    }
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

/** FNV-1a, 32 bits. */
function hashBytes(buf: Buffer, start: number, end: number): number {
  let h = 0x811c9dc5
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193)
  return h
}

function bytesEqual(a: Buffer, aStart: number, aEnd: number, b: Buffer, bStart: number, bEnd: number): boolean {
  if (aEnd - aStart !== bEnd - bStart) return false
  for (let i = 0; i < aEnd - aStart; i++) if (a[aStart + i] !== b[bStart + i]) return false
  return true
}
