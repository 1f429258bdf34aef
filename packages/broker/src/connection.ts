import { EventEmitter } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib'
import { BrokerClosedError, ChannelClosedError } from './errors'
import { settledWithin } from './settled-within'
import { declareTopology, topology, type Topology } from './topology'
import { OtherStacks, type Launcher } from './other-stacks'

/** How long close() waits for a connect attempt that is still in progress. */
const CLOSE_WAIT_FOR_CONNECT_MS = 1000
/** How long close() waits for the broker's close-ok before dropping the socket. */
const CONNECTION_CLOSE_TIMEOUT_MS = 2000

/** The subset of a pino logger the broker writes to. */
export interface BrokerLogger {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

const silent: BrokerLogger = { debug() {}, info() {}, warn() {}, error() {} }

/** Options of a BrokerConnection. */
export interface BrokerConnectionOptions {
  url: string
  /** Shown as connection_name in RabbitMQ (`rabbitmqctl list_connections`), e.g. "mailer@host:pid". */
  name: string
  prefix?: string
  retryDelaysMs?: number[]
  /**
   * True (the default) for the process that owns the routing, the api: it
   * declares the whole topology (declareTopology) on every (re)connect. A
   * process that only consumes, or publishes on the api's routing (the
   * worker), sets false: its broker user may not declare the exchange or
   * other services' queues, and each of its Consumers declares its own
   * queue family instead.
   */
  ownsTopology?: boolean
  /**
   * Set by a service (not by tests' helpers): who started this process. Its
   * consumers then show themselves on the broker, and warn once when another
   * launcher on this machine runs consumers of the same queue (another
   * `npm start` against the same broker and AMQP_PREFIX; see other-stacks.ts).
   */
  launcher?: Launcher
  log?: BrokerLogger
  /** Seconds between heartbeats unless the URL sets `heartbeat`; a dead TCP peer is noticed after ~2x this. */
  heartbeatSeconds?: number
  /** Reconnect backoff: first delay, doubling up to the max, with jitter. */
  reconnectMinMs?: number
  reconnectMaxMs?: number
}

/**
 * The one AMQP connection of a process. It connects in the background,
 * declares the topology on every (re)connect if it owns it (a broker that
 * lost its definitions gets them back before anyone publishes; consumers
 * re-declare their own queues), and reconnects with
 * jittered backoff until `close()`. Publishers and consumers open their own
 * channels on 'connected'; nothing is buffered here.
 *
 * Events: 'connected' (), 'disconnected' (err?: Error).
 */
export class BrokerConnection extends EventEmitter {
  /** Names of every exchange and queue this connection declares. */
  readonly topology: Topology
  readonly name: string
  readonly log: BrokerLogger
  /** Present when the options named a launcher: consumers join their queue's presence through it. */
  readonly otherStacks: OtherStacks | undefined
  private readonly url: string
  private readonly ownsTopology: boolean
  private readonly minDelay: number
  private readonly maxDelay: number
  private model: ChannelModel | undefined
  private loop: Promise<void> | undefined
  private closing = false
  private closed: Promise<void> | undefined
  private readonly wake = new AbortController()

  constructor(options: BrokerConnectionOptions) {
    super()
    this.name = options.name
    this.log = options.log ?? silent
    this.topology = topology({ prefix: options.prefix, retryDelaysMs: options.retryDelaysMs })
    this.ownsTopology = options.ownsTopology ?? true
    this.otherStacks = options.launcher && new OtherStacks(options.prefix ?? '', this.log, options.launcher)
    this.minDelay = options.reconnectMinMs ?? 200
    this.maxDelay = options.reconnectMaxMs ?? 10_000
    const url = new URL(options.url)
    if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(options.heartbeatSeconds ?? 10))
    this.url = url.toString()
  }

  /** True while an AMQP connection is open and (if this process owns it) the topology is declared. */
  get isConnected(): boolean {
    return this.model !== undefined
  }

  /**
   * Starts connecting (once; later calls share it) and resolves when
   * connected. It retries forever, so callers that must not wait for the
   * broker (the api answering 201 with RabbitMQ down) can leave it pending;
   * it rejects only when `close()` is called first.
   */
  async connect(): Promise<void> {
    if (this.closing) throw new BrokerClosedError('broker connection')
    this.loop ??= this.run()
    if (this.isConnected) return
    await this.waitForConnection()
  }

  /** Resolves on the next 'connected' (now if connected); rejects if the connection is closed first. */
  async waitForConnection(): Promise<void> {
    if (this.isConnected) return
    if (this.closing) throw new BrokerClosedError('broker connection')
    await new Promise<void>((resolve, reject) => {
      const onConnected = (): void => {
        this.off('closed', onClosed)
        resolve()
      }
      const onClosed = (): void => {
        this.off('connected', onConnected)
        reject(new BrokerClosedError('broker connection'))
      }
      this.once('connected', onConnected)
      this.once('closed', onClosed)
    })
  }

  /** Opens a confirm channel on the current connection; throws ChannelClosedError when disconnected. */
  async createChannel(): Promise<ConfirmChannel> {
    if (!this.model) throw new ChannelClosedError('not connected to the broker')
    return this.model.createConfirmChannel()
  }

  /** Stops reconnecting and closes the connection. Idempotent; close channels (consumers, publishers) first. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true
      this.wake.abort()
      this.emit('closed')
      const model = this.model
      if (model && !(await settledWithin(model.close(), CONNECTION_CLOSE_TIMEOUT_MS))) {
        // No close-ok (the broker stopped answering): amqplib would wait for it
        // forever. Failing the socket makes amqplib close the connection, which
        // also ends the run loop.
        const socket = (model as unknown as { connection: { stream?: { destroy(err: Error): void } } }).connection.stream
        socket?.destroy(new Error('no reply from the broker to connection.close'))
      }
      // amqplib cannot abort a connect in progress: against a broker that accepts TCP but
      // never answers, it takes the full 10 s socket timeout, longer than a shutdown grace
      // period. Wait a moment for the loop; if it is still connecting it closes whatever
      // that connect returns by itself (it checks `closing`), so nothing leaks.
      await Promise.race([this.loop, sleep(CLOSE_WAIT_FOR_CONNECT_MS, undefined, { ref: false })])
    })()
    return this.closed
  }

  private async run(): Promise<void> {
    let failures = 0
    while (!this.closing) {
      let model: ChannelModel | undefined
      try {
        // noDelay: each confirm-awaiting publish is a small write; with Nagle on, it can sit
        // behind the peer's delayed ACK (~40 ms), which capped the api at a few hundred jobs/s.
        model = await connect(this.url, { clientProperties: { connection_name: this.name }, timeout: 10_000, noDelay: true })
        if (this.closing) {
          await model.close().catch(() => {})
          break
        }
        // Without an 'error' listener an AMQP connection error would crash the process.
        model.on('error', (err: Error) => this.log.warn({ err }, 'amqp connection error'))
        model.on('blocked', (reason: string) => this.log.warn({ reason }, 'amqp connection blocked by the broker (resource alarm)'))
        model.on('unblocked', () => this.log.info({}, 'amqp connection unblocked'))
        // Listen before declaring: the connection may drop while we declare.
        const lost = new Promise<Error | undefined>((resolve) => model!.once('close', resolve))
        if (this.ownsTopology) await this.declare(model)
        if (this.closing) {
          await model.close().catch(() => {})
          break
        }
        this.model = model
        failures = 0
        this.log.info({ connection: this.name }, 'connected to rabbitmq')
        this.emit('connected')
        const err = await lost
        this.model = undefined
        if (this.closing) break
        this.log.warn({ err }, 'rabbitmq connection lost, reconnecting')
        this.emit('disconnected', err)
      } catch (err) {
        if (model) await model.close().catch(() => {})
        if (this.closing) break
        this.log.warn({ err, attempt: failures + 1 }, 'cannot connect to rabbitmq, retrying')
      }
      failures += 1
      await sleep(this.backoff(failures), undefined, { signal: this.wake.signal }).catch(() => {})
    }
  }

  private async declare(model: ChannelModel): Promise<void> {
    const channel = await model.createChannel()
    channel.on('error', (err: Error) => this.log.error({ err }, 'declaring the rabbitmq topology failed'))
    await declareTopology(channel, this.topology)
    await channel.close()
  }

  // Exponential with "equal jitter": at least half the delay, so replicas
  // restarted together spread out without ever retrying immediately.
  private backoff(failures: number): number {
    const base = Math.min(this.maxDelay, this.minDelay * 2 ** Math.min(failures - 1, 20))
    return Math.round(base / 2 + Math.random() * (base / 2))
  }
}
