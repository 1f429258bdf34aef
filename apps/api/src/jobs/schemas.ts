import { Type, type Static } from '@sinclair/typebox'
import { JOB_ID_PATTERN, JOB_STATUSES, JOB_TYPES, type JobStatus, type JobType } from '@socialnet/jobs'

const Data = Type.Record(Type.String(), Type.Unknown(), { description: 'any JSON object' })

/** `{type: "log", data}`: the worker writes `data` to the database. */
export const LogJobBody = Type.Object({
  type: Type.Literal('log'),
  data: Data
}, { additionalProperties: false, title: 'log job' })

/** `{type: "callback", callbackUrl, data?}`: the worker POSTs a signed result to callbackUrl. */
export const CallbackJobBody = Type.Object({
  type: Type.Literal('callback'),
  callbackUrl: Type.String({ minLength: 1, maxLength: 2048, description: 'public http(s) URL; private, loopback and link-local targets are refused' }),
  data: Type.Optional(Data)
}, { additionalProperties: false, title: 'callback job' })

/** `{type: "email", to, subject, text, html?}`: the mailer sends it. */
export const EmailJobBody = Type.Object({
  type: Type.Literal('email'),
  to: Type.String({ minLength: 3, maxLength: 254, description: 'recipient address' }),
  subject: Type.String({ minLength: 1, maxLength: 998, pattern: '^[^\\r\\n]*$' }),
  text: Type.String({ maxLength: 1_000_000 }),
  html: Type.Optional(Type.String({ maxLength: 1_000_000 }))
}, { additionalProperties: false, title: 'email job' })

/** Body of `POST /v1/jobs`, one shape per `type`. */
export const JobRequestBody = Type.Union([LogJobBody, CallbackJobBody, EmailJobBody])
export type JobRequestBody = Static<typeof JobRequestBody>

export const BODY_BY_TYPE = { log: LogJobBody, callback: CallbackJobBody, email: EmailJobBody } as const

export const JobIdParams = Type.Object({
  id: Type.String({ pattern: JOB_ID_PATTERN, description: 'job id (lower-case UUID)' })
})

const Status = Type.Unsafe<JobStatus>({ type: 'string', enum: [...JOB_STATUSES] })

export const Accepted = Type.Object({ id: Type.String(), status: Status })

/** What `GET /v1/jobs/{id}` answers. */
export const JobStatusBody = Type.Object({
  id: Type.String(),
  type: Type.Unsafe<JobType>({ type: 'string', enum: [...JOB_TYPES] }),
  status: Status,
  attempts: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  result: Type.Optional(Type.Unknown()),
  error: Type.Optional(Type.String()),
  deliveries: Type.Optional(Type.Array(Type.Object({
    at: Type.String({ format: 'date-time' }),
    statusCode: Type.Optional(Type.Integer({ description: "the receiver's HTTP status; absent when no answer came" })),
    durationMs: Type.Integer({ minimum: 0 }),
    error: Type.Optional(Type.String())
  }), { description: 'callback jobs: every delivery attempt, oldest first (the newest 20)' }))
})

export const JOBS_PAGE_DEFAULT = 20
export const JOBS_PAGE_MAX = 100

/** Query of `GET /v1/jobs`. */
export const JobListQuery = Type.Object({
  // Empty is the first page, so `?cursor=&limit=20` works as a template.
  cursor: Type.Optional(Type.String({ pattern: `^$|${JOB_ID_PATTERN}`, description: 'nextCursor of the previous page; empty or absent for the first' })),
  limit: Type.Integer({ minimum: 1, maximum: JOBS_PAGE_MAX, default: JOBS_PAGE_DEFAULT })
}, { additionalProperties: false })

/** What `GET /v1/jobs` answers. */
export const JobListBody = Type.Object({
  jobs: Type.Array(JobStatusBody),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as `cursor` for the next (older) page; null on the last' })
})
