import { PermanentError, type AnyConsumedMessage, type MessageHandler } from '@socialnet/broker'
import type { JobCallbackV1, JobEmailV1, JobLogV1 } from '@socialnet/contracts'
import { JOB_MESSAGE_TYPES, jobTypeOfMessage, type JobStatusStore } from '@socialnet/jobs'
import type { Logger } from 'pino'
import type { QueueRegistration, WorkerDeps } from './registry'
import { logJobWork } from './log-job'
import { callbackJobWork } from './callback-job'
import { emailJobWork } from './email-job'

/** The work of each job type; resolves with the result shown in the job's status. */
interface JobWork {
  log(payload: JobLogV1): Promise<unknown>
  callback(payload: JobCallbackV1): Promise<unknown>
  /** `headers`: the job message's, whose x-user-id the mail carries on. */
  email(payload: JobEmailV1, headers: Record<string, unknown>): Promise<unknown>
}

/**
 * Runs one job message and keeps its status in Redis in step:
 * STARTED (one more attempt) -> IN_PROGRESS -> DONE, or back to QUEUED with
 * the error while the broker holds it for a retry, or FAILED for good.
 * A message for a job that already finished is acked without running it
 * again. A job whose starts keep exceeding maxAttempts without ever
 * finishing (the worker died mid-job each time) is FAILED instead of being
 * left IN_PROGRESS forever.
 */
export function jobsHandler(store: JobStatusStore, work: JobWork, maxAttempts: number, log: Logger): MessageHandler {
  return async (message: AnyConsumedMessage) => {
    if (message.type !== 'job.log.v1' && message.type !== 'job.callback.v1' && message.type !== 'job.email.v1') {
      throw new PermanentError(`${message.type} is not a job message`)
    }
    // The guard above narrows the payload; the type-to-job mapping itself lives in @socialnet/jobs.
    const jobType = jobTypeOfMessage(message.type)!
    const { jobId } = message.payload
    const jobLog = log.child({ jobId, jobType, attempt: message.attempt })

    const start = await store.started(jobId, jobType)
    if (!start.applied) {
      jobLog.info({ status: start.doc.status }, 'job already finished; redelivery ignored')
      return
    }
    if (start.doc.attempts > maxAttempts) {
      const reason = `gave up after ${start.doc.attempts - 1} starts without finishing (worker stopped mid-job)`
      await store.failed(jobId, jobType, reason)
      throw new PermanentError(reason)
    }
    await store.inProgress(jobId, jobType)
    let result: unknown
    try {
      if (message.type === 'job.log.v1') result = await work.log(message.payload)
      else if (message.type === 'job.callback.v1') result = await work.callback(message.payload)
      else result = await work.email(message.payload, message.headers)
    } catch (err) {
      const reason = (err as Error).message || String(err)
      // Mirror the consumer's decision: it dead-letters on PermanentError or the last attempt.
      if (err instanceof PermanentError || message.attempt >= maxAttempts) {
        await store.failed(jobId, jobType, reason)
        jobLog.warn({ reason }, 'job failed')
      } else {
        await store.retrying(jobId, jobType, reason)
        jobLog.info({ reason }, 'job attempt failed; will retry')
      }
      throw err
    }
    await store.done(jobId, jobType, result)
    jobLog.info('job done')
  }
}

/** The `jobs` queue: log, callback and email jobs. */
export function jobsQueue(deps: WorkerDeps): QueueRegistration {
  const { config } = deps
  const work: JobWork = {
    log: logJobWork(deps.db),
    callback: callbackJobWork(deps.callback, deps.log.child({ queue: 'jobs', jobType: 'callback' })),
    email: emailJobWork(deps.publisher)
  }
  return {
    queue: 'jobs',
    accepts: Object.values(JOB_MESSAGE_TYPES),
    prefetch: config.JOBS_PREFETCH,
    maxAttempts: config.JOBS_MAX_ATTEMPTS,
    handler: jobsHandler(deps.store, work, config.JOBS_MAX_ATTEMPTS, deps.log.child({ queue: 'jobs' }))
  }
}
