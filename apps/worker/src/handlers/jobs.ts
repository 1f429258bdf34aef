import { PermanentError, REDRIVEN_HEADER, type AnyConsumedMessage, type ConsumerOptions, type MessageHandler } from '@socialnet/broker'
import type { JobCallbackV1, JobEmailV1, JobLogV1 } from '@socialnet/contracts'
import { JOB_MESSAGE_TYPES, JobLogTotal, jobTypeOfMessage, type JobStatusStore } from '@socialnet/jobs'
import type { Logger } from 'pino'
import { FailureCode } from '../errors'
import type { QueueRegistration, WorkerDeps } from './queue-registration'
import { logJobWork } from './log-job'
import { callbackJobWork } from './callback-job'
import { emailJobWork } from './email-job'
import { runCancellable } from './cancellation'

/** The work of each job type; resolves with the result shown in the job's status. */
interface JobWork {
  log(payload: JobLogV1): Promise<unknown>
  /** `signal` fires when the job is cancelled while its callback is in flight. */
  callback(payload: JobCallbackV1, signal: AbortSignal): Promise<unknown>
  /** `headers`: the job message's, whose x-user-id the mail carries on. */
  email(payload: JobEmailV1, headers: Record<string, unknown>): Promise<unknown>
}

/**
 * Runs one job message and keeps its status in Redis in step:
 * STARTED (one more attempt) -> IN_PROGRESS -> DONE. When the work throws,
 * the consumer decides (retry or dead letter) and `onFailure` records it:
 * back to QUEUED with the error while a retry waits, or FAILED for good.
 * A message for a job that already finished is acked without running it
 * again. A job whose starts keep exceeding maxAttempts without ever
 * finishing (the worker died mid-job each time) is FAILED instead of being
 * left IN_PROGRESS forever.
 */
export function jobsHandler(store: JobStatusStore, work: JobWork, opts: { maxAttempts: number; cancelPollMs: number }, log: Logger): { handler: MessageHandler; onFailure: NonNullable<ConsumerOptions['onFailure']> } {
  const handler: MessageHandler = async (message: AnyConsumedMessage) => {
    if (message.type !== 'job.log.v1' && message.type !== 'job.callback.v1' && message.type !== 'job.email.v1') {
      throw new PermanentError(`${message.type} is not a job message`, { code: FailureCode.INVALID_MESSAGE })
    }
    // The guard above narrows the payload; the type-to-job mapping itself lives in @socialnet/jobs.
    const jobType = jobTypeOfMessage(message.type)!
    const { jobId } = message.payload
    const jobLog = log.child({ jobId, jobType, attempt: message.attempt })

    // A dead letter an operator replayed (npm run dlq -- replay jobs) runs a FAILED job again.
    const start = await store.started(jobId, jobType, { revive: message.headers[REDRIVEN_HEADER] !== undefined })
    if (!start.applied) {
      jobLog.info({ status: start.doc.status }, start.doc.status === 'CANCELLED' ? 'job cancelled; skipped' : 'job already finished; redelivery ignored')
      return
    }
    if (start.doc.attempts > opts.maxAttempts) {
      const reason = `gave up after ${start.doc.attempts - 1} starts without finishing (worker stopped mid-job)`
      await store.failed(jobId, jobType, reason)
      throw new PermanentError(reason, { code: FailureCode.JOB_CRASH_LOOP })
    }
    // Cancelled between its start and now: CANCELLED is final, so the transition is refused.
    const running = await store.inProgress(jobId, jobType)
    if (!running.applied) {
      jobLog.info({ status: running.doc.status }, 'job cancelled before it ran; skipped')
      return
    }
    const outcome = await runCancellable(store, jobId, opts.cancelPollMs, (signal) => {
      if (message.type === 'job.log.v1') return work.log(message.payload)
      if (message.type === 'job.callback.v1') return work.callback(message.payload, signal)
      return work.email(message.payload, message.headers)
    })
    if (outcome.cancelled) {
      // CANCELLED is final: the ack ends the message, no retry.
      jobLog.info('job cancelled while running; its work was aborted')
      return
    }
    const done = await store.done(jobId, jobType, outcome.result)
    jobLog.info({ status: done.doc.status }, done.applied ? 'job done' : 'job finished after it was cancelled; result not recorded')
  }
  const onFailure: NonNullable<ConsumerOptions['onFailure']> = async (outcome, message) => {
    const jobType = message ? jobTypeOfMessage(message.type) : undefined
    if (!message || !jobType) return
    const { jobId } = message.payload as { jobId: string }
    const jobLog = log.child({ jobId, jobType, attempt: outcome.attempt, code: outcome.code })
    if (outcome.action === 'dead-letter') {
      await store.failed(jobId, jobType, outcome.error)
      jobLog.warn({ reason: outcome.reason }, 'job failed')
    } else {
      await store.retrying(jobId, jobType, outcome.error)
      jobLog.info({ reason: outcome.reason, delayMs: outcome.delayMs }, 'job attempt failed; will retry')
    }
  }
  return { handler, onFailure }
}

/** The `jobs` queue: log, callback and email jobs. */
export function jobsQueue(deps: WorkerDeps): QueueRegistration {
  const { config } = deps
  const work: JobWork = {
    log: logJobWork(deps.db, new JobLogTotal(deps.db, config.JOB_LOG_MAX_TOTAL_BYTES, config.JOB_LOG_TOTAL_REFRESH_MS)),
    callback: callbackJobWork(deps.callback, deps.store, deps.log.child({ queue: 'jobs', jobType: 'callback' })),
    email: emailJobWork(deps.publisher)
  }
  return {
    queue: 'jobs',
    accepts: Object.values(JOB_MESSAGE_TYPES),
    prefetch: config.JOBS_PREFETCH,
    maxAttempts: config.JOBS_MAX_ATTEMPTS,
    ...jobsHandler(deps.store, work, { maxAttempts: config.JOBS_MAX_ATTEMPTS, cancelPollMs: config.JOB_CANCEL_POLL_MS }, deps.log.child({ queue: 'jobs' }))
  }
}
