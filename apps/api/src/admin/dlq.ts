import { BrokerError, DeadLetterQueue, WORK_QUEUES, type BrokerConnection, type DeadLetter, type ReplayResult, type WorkQueue } from '@socialnet/broker'
import { DeadLettersUnavailableError, InvalidReplayError, NoSuchDeadLetterError, NoSuchQueueError } from '../errors'
import { showDeadLetter, type ShownDeadLetter } from './dlq-message'

/** Default and most dead letters one call reads (list) or moves (replay). */
export const DLQ_DEFAULT_LIMIT = 50
export const DLQ_MAX_LIMIT = 500
/** The longest one dead-letter call may wait on RabbitMQ before it answers 503. */
const DLQ_CALL_TIMEOUT_MS = 30_000

/** A replay request: exactly one of `messageIds` / `all`. */
export interface ReplayRequest {
  messageIds?: string[]
  all?: boolean
  dryRun?: boolean
}

/** Where audit lines go: who did what to which queue, and how many messages it touched. */
export interface AuditLog {
  info(obj: object, msg: string): void
}

/**
 * Dead-letter operations for the admin routes and `npm run dlq` alike: one
 * place validates the queue name and the replay selection, bounds the work
 * of a call and writes the audit line. The broker side (reading without
 * losing, confirm-then-ack) is @socialnet/broker's DeadLetterQueue.
 */
export class DeadLetterService {
  /** The last call on each queue: calls on one queue run one after the other (see `run`). */
  private readonly lastCall = new Map<WorkQueue, Promise<unknown>>()

  constructor(
    private readonly connection: BrokerConnection,
    private readonly audit: AuditLog
  ) {}

  /** Up to `limit` dead letters (default 50, at most 500) with why they failed; `preview` adds the body's start. */
  async list(queue: string, opts: { limit?: number; preview?: boolean } = {}): Promise<{ queue: WorkQueue; dlq: string; total: number; messages: DeadLetter[] }> {
    const dlq = this.queueOf(queue)
    const limit = Math.min(Math.max(opts.limit ?? DLQ_DEFAULT_LIMIT, 1), DLQ_MAX_LIMIT)
    const { total, messages } = await this.run(dlq, () => dlq.list(limit, { preview: opts.preview }))
    return { queue: dlq.queue, dlq: dlq.names.dlq, total, messages }
  }

  /** Replays the selected dead letters (at most 500 per call) to their work queue; `by` is recorded on each. */
  async replay(queue: string, request: ReplayRequest, by: string): Promise<ReplayResult & { queue: WorkQueue }> {
    const dlq = this.queueOf(queue)
    const hasIds = request.messageIds !== undefined
    if (hasIds === (request.all === true)) throw new InvalidReplayError('give exactly one of messageIds (a list of ids) or all: true')
    if (hasIds && request.messageIds!.length === 0) throw new InvalidReplayError('messageIds must name at least one message')
    if (hasIds && request.messageIds!.length > DLQ_MAX_LIMIT) throw new InvalidReplayError(`at most ${DLQ_MAX_LIMIT} messageIds per call`)
    const result = await this.run(dlq, () => dlq.replay({
      messageIds: request.messageIds ? [...new Set(request.messageIds)] : undefined,
      all: request.all,
      dryRun: request.dryRun,
      limit: DLQ_MAX_LIMIT
    }, by))
    if (!result.dryRun) this.audit.info({ audit: 'dlq.replay', by, queue: dlq.queue, count: result.replayed, messageIds: result.messageIds }, `dead letters replayed: ${result.replayed} from ${dlq.names.dlq} by ${by}`)
    return { queue: dlq.queue, ...result }
  }

  /** Deletes every dead letter of the queue; answers how many. */
  async purge(queue: string, by: string): Promise<{ queue: WorkQueue; purged: number }> {
    const dlq = this.queueOf(queue)
    const purged = await this.run(dlq, () => dlq.purge())
    this.audit.info({ audit: 'dlq.purge', by, queue: dlq.queue, count: purged }, `dead letters purged: ${purged} from ${dlq.names.dlq} by ${by}`)
    return { queue: dlq.queue, purged }
  }

  /**
   * One dead letter in full (properties, headers, body as text or base64, capped), found by
   * `messageId` among the first 500. A body may hold personal data and a verification link:
   * each look is written to the audit log with who looked.
   */
  async show(queue: string, messageId: string, by: string): Promise<ShownDeadLetter & { queue: WorkQueue }> {
    const dlq = this.queueOf(queue)
    const found = await this.run(dlq, () => dlq.show(messageId, DLQ_MAX_LIMIT))
    if (!found) throw new NoSuchDeadLetterError(messageId, dlq.names.dlq, DLQ_MAX_LIMIT)
    this.audit.info({ audit: 'dlq.show', by, queue: dlq.queue, messageId }, `dead letter shown: ${messageId} of ${dlq.names.dlq} to ${by}`)
    return { queue: dlq.queue, ...showDeadLetter(found) }
  }

  /** Deletes one dead letter, found by `messageId` among the first 500; answers what it was and how many are left. */
  async delete(queue: string, messageId: string, by: string): Promise<{ queue: WorkQueue; deleted: DeadLetter; remaining: number }> {
    const dlq = this.queueOf(queue)
    const { deleted, remaining } = await this.run(dlq, () => dlq.delete(messageId, DLQ_MAX_LIMIT))
    if (!deleted) throw new NoSuchDeadLetterError(messageId, dlq.names.dlq, DLQ_MAX_LIMIT)
    this.audit.info({ audit: 'dlq.delete', by, queue: dlq.queue, count: 1, messageId, type: deleted.type, reason: deleted.reason }, `dead letter deleted: ${messageId} from ${dlq.names.dlq} by ${by}`)
    return { queue: dlq.queue, deleted, remaining }
  }

  private queueOf(queue: string): DeadLetterQueue {
    if (!(WORK_QUEUES as readonly string[]).includes(queue)) throw new NoSuchQueueError(queue.slice(0, 100))
    return new DeadLetterQueue(this.connection, queue as WorkQueue)
  }

  // Calls on one queue wait for each other: a read holds the messages it looked at until its
  // channel closes, and a second call meanwhile would not see them (a replay's id "not found",
  // a listing short of the ones being replayed). The console lists again right after each
  // action, while the queue stats may trigger a listing too. Other replicas and the CLI are
  // not serialised with this one; a call there can still miss what this one holds.
  private async run<T>(dlq: DeadLetterQueue, work: () => Promise<T>): Promise<T> {
    const previous = this.lastCall.get(dlq.queue) ?? Promise.resolve()
    const call = previous.catch(() => undefined).then(() => this.attempt(work))
    this.lastCall.set(dlq.queue, call)
    try {
      return await call
    } finally {
      if (this.lastCall.get(dlq.queue) === call) this.lastCall.delete(dlq.queue)
    }
  }

  // Broker trouble (down, channel closed, confirm timeout) is a 503; what was
  // read and not acked has gone back to the queue with the channel.
  // amqplib bounds no basic.get or checkQueue: a broker that keeps the connection but stops answering would
  // hold this call, and every call queued behind it on the queue, until a restart. Past the bound the caller
  // gets its 503 and the queue its turn back; the stuck read's messages return when its channel closes.
  private async attempt<T>(work: () => Promise<T>): Promise<T> {
    if (!this.connection.isConnected) throw new DeadLettersUnavailableError('not connected to RabbitMQ')
    let timer: NodeJS.Timeout | undefined
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadLettersUnavailableError(`no answer from RabbitMQ within ${DLQ_CALL_TIMEOUT_MS / 1000} s`)), DLQ_CALL_TIMEOUT_MS)
      timer.unref()
    })
    try {
      return await Promise.race([work(), bound])
    } catch (err) {
      // amqplib: IllegalOperationError on a closed channel, a numeric AMQP reply code when the broker closed it.
      const e = err as Error & { code?: unknown }
      if (err instanceof BrokerError || e.name === 'IllegalOperationError' || typeof e.code === 'number' || /not confirmed within/.test(e.message)) {
        throw new DeadLettersUnavailableError(e.message)
      }
      throw err
    } finally {
      clearTimeout(timer)
    }
  }
}
