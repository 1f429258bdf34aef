/** What JobLogTotal needs of a Postgres pool (pg's Pool fits). */
export interface TotalQuery {
  query(text: string): Promise<{ rows: Array<{ bytes: string | number | null }> }>
}

/**
 * The bytes all `log` jobs keep in job_log (the sum of job_log_usage, which
 * triggers keep exact), held against JOB_LOG_MAX_TOTAL_BYTES. The sum is
 * read at most once per `refreshMs` and shared by every caller in between,
 * so a burst of submissions costs one small query; what this process added
 * since the last read is counted on top, so the cap cannot be passed by more
 * than the other processes write within one refresh.
 */
export class JobLogTotal {
  private known = 0
  private readAt = -Infinity
  private reading: Promise<number> | undefined

  constructor(private readonly db: TotalQuery, readonly maxBytes: number, private readonly refreshMs: number) {}

  /** True when keeping `bytes` more would take job_log past the cap. */
  async wouldPass(bytes: number): Promise<boolean> {
    return (await this.current()) + bytes > this.maxBytes
  }

  /** Counts bytes this process just stored, until the next read sees them. */
  added(bytes: number): void {
    this.known += bytes
  }

  /** The total as last read, plus what this process added since. */
  async current(): Promise<number> {
    if (Date.now() - this.readAt < this.refreshMs) return this.known
    this.reading ??= this.read().finally(() => { this.reading = undefined })
    return this.reading
  }

  private async read(): Promise<number> {
    const { rows } = await this.db.query('SELECT coalesce(sum(byte_count), 0) AS bytes FROM job_log_usage')
    this.known = Number(rows[0]?.bytes ?? 0)
    this.readAt = Date.now()
    return this.known
  }
}
