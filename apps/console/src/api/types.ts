/**
 * The API's bodies as the console reads them: the same shapes as the api's
 * TypeBox schemas (OpenAPI at /docs) and the event catalogue (docs/events.md).
 */
import type { DeadLetter } from '@socialnet/broker'

/** `{error, message}`: every error the API answers. */
export interface ErrorBody {
  error: string
  message: string
  details?: Array<{ field: string; message: string }>
}

/** `POST /v1/users` -> 201. */
export interface UserCreated {
  id: string
  nickname: string
  email: string
  createdAt: string
  /** `withheld`: a mail limit held the welcome mail back; the owner asks again with `POST /v1/users/me/verification`. */
  verificationMail: 'queued' | 'withheld'
}

/** `POST /v1/users/me/verification` -> 202: a new link is on its way (409 once verified, 429 + Retry-After past a mail limit). */
export interface VerificationQueued {
  verificationMail: 'queued'
}

/** `GET /v1/users/me`. */
export interface Me {
  id: string
  nickname: string
  email: string
  firstName: string | null
  lastName: string | null
  emailVerified: boolean
  role: 'user' | 'admin'
  createdAt: string
}

/** `POST /v1/sessions` -> 201. */
export interface Session {
  token: string
  expiresAt: string
}

/** `GET /v1/users/verify?token=` -> 200. */
export interface Verified {
  id: string
  emailVerifiedAt: string
}

/** `PUT /v1/users/{id}/avatar` -> 201, `GET /v1/users/{id}/avatar`. */
/** `GET /v1/images/limits`: what an avatar upload may be (the upload route enforces the same). */
export interface UploadLimits {
  maxBytes: number
  formats: Array<{ name: string; mediaType: string }>
  maxPixels: number
  maxSide: number
  maxAspect: number
}

export interface Avatar {
  id: string
  url: string
  contentType: string
  thumbnails: { status: 'pending' | 'ready'; urls: Record<string, string> }
}

export type JobStatus = 'QUEUED' | 'STARTED' | 'IN_PROGRESS' | 'DONE' | 'FAILED' | 'CANCELLED'
export const FINAL_JOB_STATUSES: readonly JobStatus[] = ['DONE', 'FAILED', 'CANCELLED']

/** `POST /v1/jobs` bodies. */
export type JobRequest =
  | { type: 'log'; data: Record<string, unknown> }
  | { type: 'callback'; callbackUrl: string; data?: Record<string, unknown> }
  | { type: 'email'; to: string; subject: string; text: string }

/** `POST /v1/jobs` -> 202. */
export interface JobAccepted {
  id: string
  status: JobStatus
}

/** `GET /v1/jobs/{id}`, `DELETE /v1/jobs/{id}`, and each job of `GET /v1/jobs`. */
export interface JobDoc {
  id: string
  type: JobRequest['type']
  status: JobStatus
  attempts: number
  createdAt: string
  updatedAt: string
  result?: unknown
  error?: string
}

/** `GET /v1/jobs?cursor=&limit=`: the caller's jobs, newest first. */
export interface JobList {
  jobs: JobDoc[]
  nextCursor: string | null
}

/** `GET /v1/admin/queues`: one work queue; a count the broker did not tell is null. */
export interface QueueStats {
  name: string
  queue?: string
  ready: number | null
  unacked: number | null
  consumers: number | null
  dlq: number | null
}

/** A process seen in the last minute (`queue.stats`). */
export interface ReplicaSeen {
  service: string
  replica: string
  lastSeenAt: string
  /** Three heartbeats missed: probably dead; it leaves the list a minute after its last one. */
  stale: boolean
  /** Messages it finished since it started (mailer, worker): two heartbeats make a rate. */
  handled?: number
}

/** Where unacked counts come from, or why they are null. */
export type UnackedSource = 'management_api' | 'not_configured' | 'unreachable'

/**
 * One message in `GET /v1/admin/dlq/{queue}`: the broker package's own type
 * (a type-only import, nothing of it is bundled).
 */
export type { DeadLetter }

/** `GET /v1/admin/dlq/{queue}`: the first messages of `total`. */
export interface DeadLetterList {
  queue: string
  dlq: string
  total: number
  messages: DeadLetter[]
}

/** `POST /v1/admin/dlq/{queue}/replay`. */
export interface ReplayResult {
  queue: string
  dryRun: boolean
  replayed: number
  messageIds: string[]
  notFound: string[]
  /** Dead letters left: one call moves at most a page of them. */
  remaining: number
}

/** `GET /v1/admin/dlq/{queue}/messages/{messageId}`: one dead letter in full. */
export interface DeadLetterShown {
  queue: string
  message: DeadLetter
  properties: Record<string, unknown>
  headers: Record<string, unknown>
  /** `utf8`: text without control characters; `base64`: anything else. `data` is cut at 64 KiB (`truncated`). */
  body: { encoding: 'utf8' | 'base64'; data: string; bytes: number; truncated: boolean }
}

/** `DELETE /v1/admin/dlq/{queue}/messages/{messageId}`. */
export interface DeadLetterDeleted {
  queue: string
  deleted: DeadLetter
  remaining: number
}

/** `DELETE /v1/admin/dlq/{queue}`. */
export interface PurgeResult {
  queue: string
  purged: number
}

/**
 * The admin mail routes' bodies (`/v1/admin/mail`, `/v1/admin/suppressions`):
 * the api's own schemas in @socialnet/contracts (type-only, nothing is bundled).
 */
export type {
  AttemptOutcome,
  MailAttemptBody as MailAttempt,
  RecipientMailBody as RecipientMail,
  MessageMailBody as MessageMail,
  SuppressionBody as Suppression,
  SuppressionListBody as SuppressionList,
  SuppressionReason
} from '@socialnet/contracts'
