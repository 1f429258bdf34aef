/**
 * A counting semaphore: at most `size` image decodes run at once, whatever the
 * number of concurrent uploads. Waiting uploads sit on disk (spooled), not in
 * memory, so the api's RSS is bounded by `size` decodes.
 */
export class EncodeSlots {
  private free: number
  private readonly waiting: Array<() => void> = []

  constructor(size: number) {
    this.free = size
  }

  /** Runs `work` when a slot is free; the slot is released however it ends. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) {
      this.free--
    } else {
      await new Promise<void>((resolve) => this.waiting.push(resolve))
    }
    try {
      return await work()
    } finally {
      const next = this.waiting.shift()
      if (next) next()
      else this.free++
    }
  }
}
