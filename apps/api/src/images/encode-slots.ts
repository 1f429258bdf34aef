/** Which queue an image waits in: `small` images have slots of their own that large ones never take. */
export type EncodeLane = 'small' | 'large'

/**
 * Bounds the image decodes running at once, in two lanes, so that a small
 * image never waits behind large ones:
 *
 * - `large` slots (IMAGE_ENCODE_SLOTS) take any image, first come first served;
 * - `small` slots (IMAGE_SMALL_SLOTS) are reserved for images of at most
 *   IMAGE_SMALL_PIXELS, which cost little memory and little time.
 *
 * A small image takes a free small slot, else a free large one; a large image
 * only ever takes a large slot. A freed large slot goes to the oldest large
 * waiter (large images are not starved by a stream of small ones), and to a
 * small waiter only when no large image waits. Waiting uploads sit on disk
 * (spooled), not in memory, so the api's RSS is bounded by the slots.
 */
export class EncodeSlots {
  private readonly free: Record<EncodeLane, number>
  private readonly waiting: Record<EncodeLane, Array<(lane: EncodeLane) => void>> = { small: [], large: [] }
  private readonly oneLane: boolean

  constructor(largeSlots: number, smallSlots: number) {
    this.free = { large: largeSlots, small: smallSlots }
    // Without small slots a small image queued apart would only get a large slot no large image wants: it would starve.
    this.oneLane = smallSlots === 0
  }

  /** Uploads waiting for a slot, per lane (for /metrics). */
  queued(lane: EncodeLane): number {
    return this.waiting[lane].length
  }

  /** Runs `work` when a slot its lane may use is free; the slot is released however it ends. */
  async run<T>(requested: EncodeLane, work: () => Promise<T>): Promise<T> {
    const lane = this.oneLane ? 'large' : requested
    const held = this.take(lane) ?? await new Promise<EncodeLane>((resolve) => this.waiting[lane].push(resolve))
    try {
      return await work()
    } finally {
      this.release(held)
    }
  }

  /** The slot taken at once, or undefined when the image has to wait. */
  private take(lane: EncodeLane): EncodeLane | undefined {
    const order: EncodeLane[] = lane === 'small' ? ['small', 'large'] : ['large']
    const slot = order.find((l) => this.free[l] > 0)
    if (slot) this.free[slot]--
    return slot
  }

  /** Hands the slot straight to a waiter that may use it, or frees it. */
  private release(slot: EncodeLane): void {
    const next = slot === 'small' ? this.waiting.small.shift() : (this.waiting.large.shift() ?? this.waiting.small.shift())
    if (next) next(slot)
    else this.free[slot]++
  }
}
