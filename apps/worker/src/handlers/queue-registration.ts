import type { Pool } from 'pg'
import type Redis from 'ioredis'
import type { Logger } from 'pino'
import type { ConsumerOptions, EventSink, MessageHandler, Publisher, WorkQueue } from '@socialnet/broker'
import type { MessageType } from '@socialnet/contracts'
import type { ObjectStorage } from '@socialnet/storage'
import type { JobStatusStore } from '@socialnet/jobs'
import type { CallbackSenderOptions } from '../callback/send-callback'
import type { WorkerConfig } from '../config'

/** Everything a queue's handler may use; opened once in worker.ts, closed there too. */
export interface WorkerDeps {
  config: WorkerConfig
  log: Logger
  db: Pool
  redis: Redis
  store: JobStatusStore
  publisher: Publisher
  /** Fire-and-forget events (docs/events.md). */
  events: EventSink
  callback: CallbackSenderOptions
  /** Image storage (thumbnails). */
  storage: ObjectStorage
}

/** One work queue the worker consumes: which messages, how many at once, and who handles them. */
export interface QueueRegistration {
  queue: WorkQueue
  accepts: readonly MessageType[]
  prefetch: number
  maxAttempts: number
  handler: MessageHandler
  /** Told of each failure once the consumer decided retry or dead letter (job status). */
  onFailure?: ConsumerOptions['onFailure']
}
