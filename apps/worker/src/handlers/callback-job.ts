import type { Logger } from 'pino'
import { PermanentError, TransientError } from '@socialnet/broker'
import type { JobCallbackV1 } from '@socialnet/contracts'
import type { DeliveryAttempt, JobStatusStore } from '@socialnet/jobs'
import { CallbackAbortedError, CallbackFailedError, sendCallback, type CallbackSenderOptions } from '../callback/send-callback'

/**
 * `callback` job: POSTs `{ jobId, data }` to the job's callbackUrl, signed
 * per Standard Webhooks with the job id as `webhook-id` (the same on every
 * retry, so a receiver drops the duplicate an at-least-once retry may
 * produce). Each attempt (time, status, duration, public error) is appended
 * to the job status. The failure is handed to the consumer typed:
 * PermanentError for a refused target, 410, 3xx and other 4xx;
 * TransientError (with the receiver's Retry-After) for network and DNS
 * errors, timeouts, 408/425/429 and 5xx. Its detail (addresses, socket
 * errors) is logged here and nowhere else. `signal` aborts the request when
 * the job is cancelled.
 */
export function callbackJobWork(options: CallbackSenderOptions, store: JobStatusStore, log: Logger) {
  return async (payload: JobCallbackV1, signal?: AbortSignal): Promise<{ callbackStatus: number }> => {
    const body = JSON.stringify({ jobId: payload.jobId, data: payload.data ?? {} })
    const started = Date.now()
    const record = (attempt: Omit<DeliveryAttempt, 'at' | 'durationMs'>): Promise<void> =>
      store.recordDelivery(payload.jobId, { at: new Date(started).toISOString(), durationMs: Date.now() - started, ...attempt })
        .catch((err: unknown) => log.warn({ err, jobId: payload.jobId }, 'could not record the callback attempt'))
    try {
      const delivery = await sendCallback(payload.callbackUrl, body, payload.jobId, options, signal)
      await record({ statusCode: delivery.statusCode })
      return { callbackStatus: delivery.statusCode }
    } catch (err) {
      if (err instanceof CallbackAbortedError) {
        await record({ error: err.message })
        throw err
      }
      if (!(err instanceof CallbackFailedError)) throw err
      await record(err.statusCode === undefined ? { error: err.message } : { statusCode: err.statusCode, error: err.message })
      log.warn({ jobId: payload.jobId, reason: err.message, code: err.code, detail: err.detail, permanent: err.permanent }, 'callback failed')
      if (err.permanent) throw new PermanentError(err.message, { code: err.code })
      throw new TransientError(err.message, { code: err.code, retryAfterMs: err.retryAfterMs })
    }
  }
}
