import type { BrokerConnection } from './connection'
import { ConfirmedChannel } from './confirmed-channel'
import { CHANNEL_CLOSE_TIMEOUT_MS, settledWithin } from './settled-within'

/** Options of a ManagedChannel. */
export interface ManagedChannelOptions {
  /** Who owns the channel, for logs: 'publisher', 'consumer of mail'. */
  role: string
  /**
   * Whether a channel is wanted right now (default: until close()). A
   * publisher that is closing still wants one while messages wait for it.
   */
  wanted?: () => boolean
  /**
   * Prepares each new channel before it counts as open: declare a queue, set
   * the prefetch, consume. If it throws, the channel is closed and opened
   * again after the pause.
   */
  setup?: (confirmed: ConfirmedChannel) => Promise<void>
  /** Told once a channel is open and set up. */
  onOpen?: (confirmed: ConfirmedChannel) => void
  /** Told once a channel is gone (closed by the broker, the connection, or drop()). */
  onClose?: (confirmed: ConfirmedChannel) => void
  /**
   * Told of a channel error or a failed open instead of the default warning
   * (the event publisher logs one warning per streak, not one per retry).
   */
  onError?: (err: unknown, what: 'channel error' | 'cannot open a channel') => void
  /** Pause before reopening a channel that closed while the connection stayed up. Default 1000 ms. */
  reopenDelayMs?: number
}

/**
 * One confirm channel that follows the process's BrokerConnection: opened on
 * every 'connected', forgotten when it closes, and opened again, after a
 * pause rather than in a hot loop when the broker closed it on a live
 * connection (a channel error, a cancelled consumer). The Publisher and each
 * Consumer hold one, so that loop is written once. The channel is exposed as
 * is: publishing, consuming and acking stay with their owners, which know
 * what a lost channel means for their messages.
 */
export class ManagedChannel {
  private current: ConfirmedChannel | undefined
  private opening: Promise<void> | undefined
  private closed = false
  private closing: Promise<void> | undefined
  private readonly reopenDelayMs: number
  private readonly onConnected = (): void => void this.open()

  constructor(
    private readonly connection: BrokerConnection,
    private readonly options: ManagedChannelOptions
  ) {
    this.reopenDelayMs = options.reopenDelayMs ?? 1000
    connection.on('connected', this.onConnected)
  }

  /** The open channel, if any. */
  get channel(): ConfirmedChannel | undefined {
    return this.current
  }

  /** Opens a channel unless one is open or opening; resolves when that attempt settled. Never rejects. */
  open(): Promise<void> {
    if (this.opening) return this.opening
    if (this.current || !this.isWanted() || !this.connection.isConnected) return Promise.resolve()
    this.opening = this.openChannel()
      .catch((err: unknown) => this.warn(err, 'cannot open a channel'))
      .finally(() => (this.opening = undefined))
    return this.opening
  }

  /**
   * Forgets `confirmed` if it is the current channel and opens another after
   * the pause. `close`: also close it (the owner saw it fail in a way the
   * broker did not close it for, e.g. a cancelled consumer).
   */
  drop(confirmed: ConfirmedChannel, { close = false } = {}): void {
    if (this.current !== confirmed) return
    this.current = undefined
    if (close) void confirmed.channel.close().catch(() => {})
    this.options.onClose?.(confirmed)
    if (this.isWanted()) setTimeout(() => void this.open(), this.reopenDelayMs).unref()
  }

  /**
   * Opens no more channels, and waits up to `timeoutMs` for one being opened
   * right now; the open one stays open (a consumer still acks on it while
   * its handlers finish). Then close() closes it.
   */
  async hold(timeoutMs: number): Promise<void> {
    this.closed = true
    this.connection.off('connected', this.onConnected)
    await settledWithin(this.opening, timeoutMs)
  }

  /** hold(), then closes the channel, waiting a bounded time for the broker. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.hold(CHANNEL_CLOSE_TIMEOUT_MS)
      const confirmed = this.current
      this.current = undefined
      if (confirmed) await settledWithin(confirmed.channel.close(), CHANNEL_CLOSE_TIMEOUT_MS)
    })()
    return this.closing
  }

  private warn(err: unknown, what: 'channel error' | 'cannot open a channel'): void {
    if (this.options.onError) this.options.onError(err, what)
    else this.connection.log.warn({ err, role: this.options.role }, what)
  }

  private isWanted(): boolean {
    return !this.closed && (this.options.wanted?.() ?? true)
  }

  private async openChannel(): Promise<void> {
    const channel = await this.connection.createChannel()
    if (!this.isWanted()) {
      // Closed while the channel was opening: nothing left to do on it.
      await channel.close().catch(() => {})
      return
    }
    const confirmed = new ConfirmedChannel(channel)
    // Without an 'error' listener a channel error would crash the process.
    channel.on('error', (err: Error) => this.warn(err, 'channel error'))
    channel.on('close', () => this.drop(confirmed))
    this.current = confirmed
    try {
      await this.options.setup?.(confirmed)
    } catch (err) {
      this.drop(confirmed, { close: true })
      throw err
    }
    if (this.current === confirmed) this.options.onOpen?.(confirmed)
  }
}
