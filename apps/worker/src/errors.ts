/*
 * Every failure code the worker itself puts on a job or thumbnails message it
 * retries or dead-letters (the `code` of its PermanentError/TransientError).
 * The codes reach dead-letter headers, the DLQ tools, job logs and events, so
 * they never change once shipped. docs/errors.md lists each one, and
 * test/errors-doc.unit.test.ts fails when the two disagree.
 */
export const FailureCode = {
  // Dead-lettered at once: not a message this queue runs, or it can never succeed.
  INVALID_MESSAGE: 'INVALID_MESSAGE',
  JOB_CRASH_LOOP: 'JOB_CRASH_LOOP',
  PERMANENT_FAILURE: 'PERMANENT_FAILURE',
  // Thumbnails, dead-lettered at once: the image took longer than THUMBNAIL_TIMEOUT_SECONDS (a retry would too).
  THUMBNAIL_TOO_SLOW: 'THUMBNAIL_TOO_SLOW',
  // Thumbnails, retried then dead-lettered: the image's row says stored but its original is not in this worker's store.
  THUMBNAIL_ORIGINAL_MISSING: 'THUMBNAIL_ORIGINAL_MISSING',
  // A log job whose row would take job_log past JOB_LOG_MAX_TOTAL_BYTES: not written.
  JOB_LOG_FULL: 'JOB_LOG_FULL',
  // Callback jobs, dead-lettered at once: the target refused, or answered what a retry cannot change.
  CALLBACK_TARGET_REFUSED: 'CALLBACK_TARGET_REFUSED',
  CALLBACK_GONE: 'CALLBACK_GONE',
  CALLBACK_REDIRECT: 'CALLBACK_REDIRECT',
  CALLBACK_4XX: 'CALLBACK_4XX',
  // Callback jobs, retried: the receiver may answer otherwise later.
  CALLBACK_408: 'CALLBACK_408',
  CALLBACK_425: 'CALLBACK_425',
  CALLBACK_429: 'CALLBACK_429',
  CALLBACK_5XX: 'CALLBACK_5XX',
  // Callback jobs, retried: the host's name gave no address we may reach (it does not resolve, or
  // resolves to a private address; one code for both, so a job's status does not map internal names).
  CALLBACK_UNREACHABLE: 'CALLBACK_UNREACHABLE',
  // Callback jobs, retried: no answer. The socket's own code when it has one, else these.
  ECONNRESET: 'ECONNRESET',
  ETIMEDOUT: 'ETIMEDOUT',
  DNS_FAILED: 'DNS_FAILED',
  CONNECTION_FAILED: 'CONNECTION_FAILED'
} as const
export type FailureCode = typeof FailureCode[keyof typeof FailureCode]
