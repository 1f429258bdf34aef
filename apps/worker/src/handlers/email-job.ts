import type { Publisher } from '@socialnet/broker'
import type { JobEmailV1 } from '@socialnet/contracts'

/**
 * `email` job: hands the mail to the mail pipeline as `mail.send.v1` and is
 * done once the broker confirmed it. The job id is the mail's messageId, so
 * the mailer's dedupe turns a republish after a worker crash into one mail.
 */
export function emailJobWork(publisher: Publisher) {
  return async (payload: JobEmailV1): Promise<{ mail: string }> => {
    const { jobId, to, subject, text, html } = payload
    await publisher.publish({
      type: 'mail.send.v1',
      messageId: jobId,
      payload: html === undefined ? { to, subject, text, jobId } : { to, subject, text, html, jobId }
    })
    return { mail: 'queued for the mailer' }
  }
}
