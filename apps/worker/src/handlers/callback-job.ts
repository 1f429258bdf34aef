import type { Logger } from 'pino'
import { PermanentError } from '@socialnet/broker'
import type { JobCallbackV1 } from '@socialnet/contracts'
import { CallbackFailedError, sendCallback, type CallbackSenderOptions } from '../callback/send-callback'

/**
 * `callback` job: POSTs `{ jobId, data }` to the job's callbackUrl, signed
 * (X-Signature) and tagged with X-Job-Id so a receiver can drop the
 * duplicate an at-least-once retry may produce. A refused URL or a 3xx/4xx
 * answer fails the job at once; network errors, timeouts and 5xx retry.
 * The job status gets the failure's public reason; its detail (addresses,
 * socket errors) is logged here and nowhere else.
 */
export function callbackJobWork(options: CallbackSenderOptions, log: Logger) {
  return async (payload: JobCallbackV1): Promise<{ callbackStatus: number }> => {
    const body = JSON.stringify({ jobId: payload.jobId, data: payload.data ?? {} })
    try {
      const delivery = await sendCallback(payload.callbackUrl, body, { 'x-job-id': payload.jobId }, options)
      return { callbackStatus: delivery.statusCode }
    } catch (err) {
      if (!(err instanceof CallbackFailedError)) throw err
      log.warn({ jobId: payload.jobId, reason: err.message, detail: err.detail, permanent: err.permanent }, 'callback failed')
      if (err.permanent) throw new PermanentError(err.message)
      throw err
    }
  }
}
