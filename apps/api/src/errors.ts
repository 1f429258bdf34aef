import createError from '@fastify/error'
import { UPLOAD_FORMAT_NAMES } from './images/formats'

/*
 * Every HTTP error the api answers with, declared once: the `error` code of
 * the body, its message and its status. Clients branch on the code, so a code
 * never changes once shipped. docs/errors.md lists each one, and
 * test/errors-doc.unit.test.ts fails when the two disagree. ESLint refuses
 * `@fastify/error` anywhere else in src, so a new error is declared here.
 */

/**
 * Codes with no single error below: the error handler's own (plugins/errors.ts maps
 * statuses and body-parser failures to them), and codes several errors share.
 */
export const ErrorCode = {
  // A status with no error of its own, the HTTP parser, the body parser, the route schemas.
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  NOT_ACCEPTABLE: 'NOT_ACCEPTABLE',
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  CONFLICT: 'CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  URI_TOO_LONG: 'URI_TOO_LONG',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  UNPROCESSABLE_ENTITY: 'UNPROCESSABLE_ENTITY',
  RATE_LIMITED: 'RATE_LIMITED',
  HEADERS_TOO_LARGE: 'HEADERS_TOO_LARGE',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
  BAD_GATEWAY: 'BAD_GATEWAY',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  GATEWAY_TIMEOUT: 'GATEWAY_TIMEOUT',
  INSUFFICIENT_STORAGE: 'INSUFFICIENT_STORAGE',
  INVALID_JSON: 'INVALID_JSON',
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  BAD_URL: 'BAD_URL',
  // Shared: a bad key from the router or the key route; RabbitMQ down for jobs or for the DLQ tools.
  BAD_KEY: 'BAD_KEY',
  BROKER_UNAVAILABLE: 'BROKER_UNAVAILABLE'
} as const
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode]

// API-wide: the per-IP rate limit (plugins/external/rate-limit.ts).
export const RateLimitedError = createError<[string]>(ErrorCode.RATE_LIMITED, 'Too many requests; retry in %s', 429)

// Sessions and API keys: who is calling, and whether they may.
export const UnauthorizedError = createError<[string]>(ErrorCode.UNAUTHORIZED, '%s', 401)
export const ForbiddenError = createError<[string]>(ErrorCode.FORBIDDEN, '%s', 403)
export const SessionStoreUnavailableError = createError<[]>('SESSION_STORE_UNAVAILABLE', 'cannot check the session right now; retry shortly', 503)
export const ApiKeyStoreUnavailableError = createError<[]>('API_KEY_STORE_UNAVAILABLE', 'cannot check the API key right now; retry shortly', 503)
export const LoginRateLimitedError = createError<[number]>('LOGIN_RATE_LIMITED', 'too many login attempts; retry in %d seconds', 429)

// Users: registration, verification, profiles.
export const EmailTakenError = createError<[]>('EMAIL_TAKEN', 'email: this e-mail address is already registered', 409)
export const NicknameTakenError = createError<[]>('NICKNAME_TAKEN', 'nickname: this nickname is already taken', 409)
export const NicknameTooSimilarError = createError<[]>('NICKNAME_TOO_SIMILAR',
  'nickname: looks like a nickname that is already taken (look-alike characters such as I and l, 0 and O, rn and m count as the same)', 409)
export const WeakPasswordError = createError<[string]>('WEAK_PASSWORD', 'password: %s', 400)
export const EmailAlreadyVerifiedError = createError<[]>('EMAIL_ALREADY_VERIFIED', 'this e-mail address is already verified; no mail was sent', 409)

/** Past REGISTER_RATE_PER_IP sign-ups from this client IP; `retryAfterSeconds` becomes the `Retry-After` header. */
export class RegistrationRateLimitedError extends createError<[number, number]>('REGISTRATION_RATE_LIMITED',
  'too many sign-ups from your address: at most %d an hour; retry in %d seconds', 429) {
  constructor(readonly limit: number, readonly retryAfterSeconds: number) {
    super(limit, retryAfterSeconds)
  }
}

/** A verification mail refused by one of its limits (per account, per mailbox, per domain, in total); carries its `Retry-After`. */
export class VerificationMailLimitedError extends createError<[string]>('VERIFICATION_MAIL_LIMITED', '%s', 429) {
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message)
  }
}
export const InvalidTokenError = createError<[]>('INVALID_TOKEN', 'token: invalid or expired verification token', 400)
export const UserNotFoundError = createError<[]>('USER_NOT_FOUND', 'no such user', 404)
export const NothingToChangeError = createError<[]>(ErrorCode.VALIDATION_FAILED, 'body: nothing to change; allowed fields are nickname, firstName, lastName', 400)

// Images: avatar uploads and their thumbnails.
export const NotMultipartError = createError<[]>('NOT_MULTIPART', 'send the image as multipart/form-data with a file field named "image"', 415)
export const MalformedUploadError = createError<[string]>('MALFORMED_UPLOAD', 'the multipart body is malformed: %s', 400)
export const MissingImageError = createError<[]>('IMAGE_MISSING', 'no file field named "image" in the form', 400)
export const ImageTooLargeError = createError<[number]>('IMAGE_TOO_LARGE', 'the image is larger than %d bytes', 413)
export const NotAnImageError = createError<[string]>('UNSUPPORTED_IMAGE_TYPE', `not a supported image (%s); send ${UPLOAD_FORMAT_NAMES}`, 415)
export const TooManyPixelsError = createError<[number, number, number]>('IMAGE_TOO_MANY_PIXELS', 'the image is %dx%d pixels; at most %d pixels are accepted', 422)
/** Arguments: width, height, the longest side accepted (IMAGE_MAX_SIDE). Checked from the header, before any decoding. */
export const ImageTooWideError = createError<[number, number, number]>('IMAGE_TOO_WIDE', 'the image is %dx%d pixels; no side may be longer than %d pixels', 422)
export const ImageBadAspectError = createError<[number, number, number]>('IMAGE_BAD_ASPECT', 'the image is %dx%d pixels; its long side may be at most %d times its short side', 422)
export const ImageTooSlowError = createError<[number]>('IMAGE_TOO_SLOW', 'the image took longer than %d seconds to process; send a smaller or simpler image', 422)
/** A second upload by a user whose previous one is still being processed; `retryAfterSeconds` becomes `Retry-After`. */
export class UploadInFlightError extends createError<[]>('UPLOAD_IN_FLIGHT', 'your previous upload is still being processed; retry when it has finished', 429) {
  readonly retryAfterSeconds = 2
}
export const CorruptImageError = createError<[]>('IMAGE_CORRUPT', 'the image data is damaged or truncated', 422)
export const ImageNotFoundError = createError<[]>('IMAGE_NOT_FOUND', 'no such image', 404)
export const ThumbnailNotReadyError = createError<[]>('THUMBNAIL_NOT_READY', 'the thumbnail is still being made; retry in a few seconds', 404)

// Jobs: submission (both APIs), status, cancellation.
export const BrokerUnavailableError = createError<[string]>(ErrorCode.BROKER_UNAVAILABLE, 'job not accepted: the message broker is unavailable (%s); retry later', 503)
export const InvalidJobError = createError<[string]>('INVALID_JOB', '%s', 400)
export const CallbackUrlRefusedError = createError<[string]>('CALLBACK_URL_REFUSED', '%s', 400)
export const IdempotencyKeyReusedError = createError<[]>('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different request', 422)
export const IdempotencyKeyInFlightError = createError<[]>('IDEMPOTENCY_KEY_IN_FLIGHT', 'a request with this Idempotency-Key is still being accepted; retry shortly', 409)
export const NoSuchJobError = createError<[]>('NO_SUCH_JOB', 'no such job (unknown, or expired)', 404)
export const JobFinishedError = createError<[string]>('JOB_FINISHED', 'the job has already finished (%s); only QUEUED, STARTED and IN_PROGRESS jobs can be cancelled', 409)
export const EmailRecipientNotAllowedError = createError<[]>('EMAIL_RECIPIENT_NOT_ALLOWED',
  'email jobs may only be sent to your own address (the one on your account)', 403)
export const EmailNotVerifiedError = createError<[]>('EMAIL_NOT_VERIFIED',
  'verify your e-mail address first (the link in the welcome mail): email jobs go to verified addresses only', 403)
export const LogJobNeedsVerifiedEmailError = createError<[]>('EMAIL_NOT_VERIFIED',
  'verify your e-mail address first (the link in the welcome mail): log jobs keep data, which only verified accounts may do', 403)
/** job_log as a whole is at JOB_LOG_MAX_TOTAL_BYTES: 507 like a full key-value store, whoever asks. */
export const JobLogFullError = createError<[number]>('JOB_LOG_FULL',
  'the job log is full: log jobs keep at most JOB_LOG_MAX_TOTAL_BYTES = %d bytes in all; retry after older entries expire', 507)
export const JobLogQuotaExceededError = createError<[number, number]>('JOB_LOG_QUOTA_EXCEEDED',
  'log job quota reached: your log jobs keep %s bytes and this one would pass the %s bytes each user may keep; older entries are deleted after the retention period', 429)
export const AccountGoneError = createError<[]>(ErrorCode.UNAUTHORIZED, 'the account of this session no longer exists', 401)
export const BadClientTimeError = createError<[]>('BAD_CLIENT_TIME', 'client_time must be a unix time in whole seconds (e.g. 1569174071)', 400)
export const BadUuidError = createError<[]>('BAD_UUID', 'uuid must be a job id (lower-case UUID)', 400)

/** A refused job submission; `retryAfterSeconds` becomes the `Retry-After` header. */
export class JobRateLimitedError extends createError<[string]>('JOB_RATE_LIMITED', '%s', 429) {
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message)
  }
}

// Events: the per-user, per-address and per-server caps on open event streams.
export const TooManyStreamsError = createError<[number]>('TOO_MANY_STREAMS', 'you already have %d event streams open; close one first', 429)
export const TooManyStreamsFromAddressError = createError<[number]>('TOO_MANY_STREAMS_FROM_ADDRESS',
  'your network address already has %d event streams open on this server; close one first', 429)
/** 429, not 403: a console page that replaces another may ask before the server saw the old stream close, and retries. */
export const StreamsNeedVerifiedEmailError = createError<[number]>('TOO_MANY_STREAMS_UNVERIFIED',
  'an account whose e-mail address is not verified may keep %d event streams open; close one, or verify your address (the link in the welcome mail)', 429)
export const StreamsFullError = createError<[]>('EVENT_STREAMS_FULL', 'this server has no room for another event stream; retry later', 503)
/** A stream asked for while the replica is shutting down: nginx, or the client's reconnect, finds another. */
export const StreamsClosingError = createError<[]>('SERVER_CLOSING', 'this server is shutting down; reconnect, and another replica will take the stream', 503)
/** An event stream asked of an api started with EVENTS=off: nothing collects or serves events. */
export const EventsOffError = createError<[]>('EVENTS_OFF', 'events are turned off on this server (EVENTS=off)', 503)
/** A Last-Event-ID of the right shape whose numbers no stream id can have (Redis would refuse it mid-stream). */
export const BadLastEventIdError = createError<[]>(ErrorCode.VALIDATION_FAILED,
  'headers/last-event-id: not an event id: two whole numbers of at most 18446744073709551615 joined by "-"', 400)

// Key-value store: `/v1/key/{key}` and the log behind it.
export const BadKeyError = createError<[string]>(ErrorCode.BAD_KEY, 'invalid key: %s', 400)
export const NoSuchKeyError = createError<[]>('NO_SUCH_KEY', 'no such key', 404)
/** Arguments: the method, then the methods the key route takes. */
export const KeyMethodNotAllowedError = createError<[string, string]>(ErrorCode.METHOD_NOT_ALLOWED, 'method %s not allowed on /v1/key/{key}; allowed: %s', 405)
/** The log cannot take writes (fsync failed, disk full, shutting down): answer 503, never a false 201. */
export const KvUnavailableError = createError<[string]>('KV_UNAVAILABLE', 'key-value log unavailable: %s', 503)
/**
 * A PUT that would take the live data past KV_MAX_TOTAL_BYTES. 507 (Insufficient
 * Storage) rather than 413: the value itself is acceptable, the store is full
 * until keys are deleted or overwritten with smaller values.
 */
export const KvFullError = createError<[number]>('KV_FULL',
  'the key-value store is full: this value would take the live data (keys + values) past KV_MAX_TOTAL_BYTES = %d bytes; delete keys or store smaller values', 507)

// Admin: the dead-letter tools.
export const NoSuchQueueError = createError<[string]>('NO_SUCH_QUEUE', 'no work queue named "%s"; the work queues are mail, jobs and thumbnails', 404)
export const InvalidReplayError = createError<[string]>('INVALID_REPLAY', '%s', 400)
export const NoSuchDeadLetterError = createError<[string, string, number]>('NO_SUCH_DEAD_LETTER', 'no dead letter with messageId "%s" in %s (the first %d looked at)', 404)
export const DeadLettersUnavailableError = createError<[string]>(ErrorCode.BROKER_UNAVAILABLE, 'the dead-letter queue cannot be read right now (%s); retry later', 503)

// Admin: the delivery log and the suppression list.
export const InvalidAddressError = createError<[string]>('INVALID_ADDRESS', 'not an e-mail address: "%s"', 400)
export const NoSuchMailError = createError<[string]>('NO_SUCH_MAIL', 'no delivery attempt is logged for message "%s" (unknown, never tried yet, or pruned)', 404)
export const NotSuppressedError = createError<[string]>('NOT_SUPPRESSED', '%s is not on the suppression list', 404)

// Ops and console: /metrics behind its token, console pages asked for as JSON.
export const MetricsUnauthorizedError = createError<[]>(ErrorCode.UNAUTHORIZED, 'metrics need `Authorization: Bearer <METRICS_TOKEN>`', 401)
export const NotAPageError = createError<[string]>(ErrorCode.NOT_FOUND, '%s is a page of the web console: open it in a browser', 404)
