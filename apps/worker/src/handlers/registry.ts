import type { Pool } from 'pg'
import type Redis from 'ioredis'
import type { Logger } from 'pino'
import type { ConsumerOptions, MessageHandler, Publisher, WorkQueue } from '@socialnet/broker'
import type { MessageType } from '@socialnet/contracts'
import type { ObjectStorage } from '@socialnet/storage'
import type { JobStatusStore } from '@socialnet/jobs'
import type { CallbackSenderOptions } from '../callback/send-callback'
import type { WorkerConfig } from '../config'
import { jobsQueue } from './jobs'
import { thumbnailsQueue } from './thumbnails'

/** Everything a queue's handler may use; opened once in worker.ts, closed there too. */
export interface WorkerDeps {
  config: WorkerConfig
  log: Logger
  db: Pool
  redis: Redis
  store: JobStatusStore
  publisher: Publisher
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

/**
 * The queues this worker consumes, one Consumer each. To add one (the
 * `thumbnails` queue): write `src/handlers/<name>.ts` exporting
 * `(deps: WorkerDeps) => QueueRegistration`, add what it needs to
 * WorkerDeps/config, and list it here.
 */
export const QUEUES: Array<(deps: WorkerDeps) => QueueRegistration> = [
  jobsQueue,
  thumbnailsQueue
]
