/**
 * Group commit for statements that many handlers run at once: calls made
 * while a batch is in flight wait and go together in the next one. At low
 * load a call runs alone, at once; under load N calls share one round trip
 * and one commit. `run` gets the inputs in call order and resolves one output
 * per input, in the same order; if it throws, every call of that batch
 * rejects with its error (each caller retries on its own, as it would alone).
 */
export class Batcher<In, Out> {
  private queued: { input: In; resolve: (out: Out) => void; reject: (err: unknown) => void }[] = []
  private running = false

  constructor(
    private readonly run: (inputs: In[]) => Promise<Out[]>,
    private readonly maxBatch = 100
  ) {}

  add(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queued.push({ input, resolve, reject })
      void this.drain()
    })
  }

  private async drain(): Promise<void> {
    if (this.running) return
    this.running = true
    while (this.queued.length > 0) {
      const batch = this.queued.splice(0, this.maxBatch)
      try {
        const outputs = await this.run(batch.map((call) => call.input))
        batch.forEach((call, i) => call.resolve(outputs[i] as Out))
      } catch (err) {
        for (const call of batch) call.reject(err)
      }
    }
    this.running = false
  }
}
