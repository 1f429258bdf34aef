import { PermanentError } from '@socialnet/broker'
import type { JobCallbackV1 } from '@socialnet/contracts'
import { CallbackFailedError, sendCallback, type CallbackSenderOptions } from '../callback/send-callback'

/**
 * `callback` job: POSTs `{ jobId, data }` to the job's callbackUrl, signed
 * (X-Signature) and tagged with X-Job-Id so a receiver can drop the
 * duplicate an at-least-once retry may produce. A refused URL or a 3xx/4xx
 * answer fails the job at once; network errors, timeouts and 5xx retry.
 */
export function callbackJobWork(options: CallbackSenderOptions) {
  return async (payload: JobCallbackV1): Promise<{ callbackStatus: number }> => {
    const body = JSON.stringify({ jobId: payload.jobId, data: payload.data ?? {} })
    try {
      const delivery = await sendCallback(payload.callbackUrl, body, { 'x-job-id': payload.jobId }, options)
      return { callbackStatus: delivery.statusCode }
    } catch (err) {
      if (err instanceof CallbackFailedError && err.permanent) throw new PermanentError(err.message)
      throw err
    }
  }
}
