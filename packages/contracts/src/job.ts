import { Type, type Static } from '@sinclair/typebox'
import { EmailAddress } from './mail'

/**
 * The job id (a lower-case UUID from `POST /v1/jobs`). Every job message
 * carries it: the worker keys status updates and idempotency on it.
 */
export const JobId = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' })

/** A user id (`users.id`, a lower-case UUID as Postgres prints it). */
export const UserId = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' })

/** Free-form JSON object a client attaches to a job; the api's body limit bounds its size. */
export const JobData = Type.Record(Type.String(), Type.Unknown())

/** `job.log.v1`: the worker writes `data` to Postgres (`job_log`), once per job id. */
export const JobLogV1 = Type.Object(
  {
    jobId: JobId,
    data: JobData,
    /**
     * The submitter's user id: the row counts against their `job_log` quota.
     * Optional so that messages queued before it existed still run (their rows have no owner).
     */
    ownerId: Type.Optional(UserId),
    /** The client's clock when it asked (the book's `client_time`), if it said: UTC ISO-8601 as toISOString() writes it. */
    clientTime: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z$' }))
  },
  { $id: 'job.log.v1', title: 'Write a job record to the database', additionalProperties: false }
)
/** Payload of `job.log.v1`. */
export type JobLogV1 = Static<typeof JobLogV1>

/**
 * `job.callback.v1`: the worker POSTs the job's result to `callbackUrl`,
 * signed, after checking the URL against SSRF rules again at send time.
 */
export const JobCallbackV1 = Type.Object(
  {
    jobId: JobId,
    callbackUrl: Type.String({ format: 'uri', maxLength: 2048 }),
    data: Type.Optional(JobData)
  },
  { $id: 'job.callback.v1', title: 'POST a signed job result to a callback URL', additionalProperties: false }
)
/** Payload of `job.callback.v1`. */
export type JobCallbackV1 = Static<typeof JobCallbackV1>

/** `job.email.v1`: the worker hands the mail to the mail pipeline (`mail.send.v1`). */
export const JobEmailV1 = Type.Object(
  {
    jobId: JobId,
    to: EmailAddress,
    subject: Type.String({ minLength: 1, maxLength: 998, pattern: '^[^\\r\\n]*$' }),
    text: Type.String({ maxLength: 1_000_000 }),
    html: Type.Optional(Type.String({ maxLength: 1_000_000 }))
  },
  { $id: 'job.email.v1', title: 'Send an e-mail through the mail pipeline', additionalProperties: false }
)
/** Payload of `job.email.v1`. */
export type JobEmailV1 = Static<typeof JobEmailV1>
