import { BrokerError, DeadLetterQueue, WORK_QUEUES, type BrokerConnection, type DeadLetter, type ReplayResult, type WorkQueue } from '@socialnet/broker'
import { DeadLettersUnavailableError, InvalidReplayError, NoSuchQueueError } from '../errors'

/** Default and most dead letters one call reads (list) or moves (replay). */
export const DLQ_DEFAULT_LIMIT = 50
export const DLQ_MAX_LIMIT = 500

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
  constructor(
    private readonly connection: BrokerConnection,
    private readonly audit: AuditLog
  ) {}

  /** Up to `limit` dead letters (default 50, at most 500) with why they failed; `preview` adds the body's start. */
  async list(queue: string, opts: { limit?: number; preview?: boolean } = {}): Promise<{ queue: WorkQueue; dlq: string; total: number; messages: DeadLetter[] }> {
    const dlq = this.queueOf(queue)
    const limit = Math.min(Math.max(opts.limit ?? DLQ_DEFAULT_LIMIT, 1), DLQ_MAX_LIMIT)
    const { total, messages } = await this.run(() => dlq.list(limit, { preview: opts.preview }))
    return { queue: dlq.queue, dlq: dlq.names.dlq, total, messages }
  }

  /** Replays the selected dead letters (at most 500 per call) to their work queue; `by` is recorded on each. */
  async replay(queue: string, request: ReplayRequest, by: string): Promise<ReplayResult & { queue: WorkQueue }> {
    const dlq = this.queueOf(queue)
    const hasIds = request.messageIds !== undefined
    if (hasIds === (request.all === true)) throw new InvalidReplayError('give exactly one of messageIds (a list of ids) or all: true')
    if (hasIds && request.messageIds!.length === 0) throw new InvalidReplayError('messageIds must name at least one message')
    if (hasIds && request.messageIds!.length > DLQ_MAX_LIMIT) throw new InvalidReplayError(`at most ${DLQ_MAX_LIMIT} messageIds per call`)
    const result = await this.run(() => dlq.replay({
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
    const purged = await this.run(() => dlq.purge())
    this.audit.info({ audit: 'dlq.purge', by, queue: dlq.queue, count: purged }, `dead letters purged: ${purged} from ${dlq.names.dlq} by ${by}`)
    return { queue: dlq.queue, purged }
  }

  private queueOf(queue: string): DeadLetterQueue {
    if (!(WORK_QUEUES as readonly string[]).includes(queue)) throw new NoSuchQueueError(queue.slice(0, 100))
    return new DeadLetterQueue(this.connection, queue as WorkQueue)
  }

  // Broker trouble (down, channel closed, confirm timeout) is a 503; what was
  // read and not acked has gone back to the queue with the channel.
  private async run<T>(work: () => Promise<T>): Promise<T> {
    if (!this.connection.isConnected) throw new DeadLettersUnavailableError('not connected to RabbitMQ')
    try {
      return await work()
    } catch (err) {
      // amqplib: IllegalOperationError on a closed channel, a numeric AMQP reply code when the broker closed it.
      const e = err as Error & { code?: unknown }
      if (err instanceof BrokerError || e.name === 'IllegalOperationError' || typeof e.code === 'number' || /not confirmed within/.test(e.message)) {
        throw new DeadLettersUnavailableError(e.message)
      }
      throw err
    }
  }
}
