export { JOB_TYPES, JOB_MESSAGE_TYPES, JOB_ID_PATTERN, isJobId, jobTypeOfMessage, type JobType, type JobMessageType } from './job-types'
export {
  JobStatusStore, JOB_STATUSES, FINAL_JOB_STATUSES, MAX_DELIVERY_ATTEMPTS_KEPT, jobStatusEvent, jobStepRank, isTerminalStatus,
  DEFAULT_JOBS_PREFIX, DEFAULT_JOB_TTL_SECONDS, MAX_JOBS_LISTED_PER_OWNER,
  type DeliveryAttempt, type JobPage, type JobStatus, type JobStatusDoc, type JobStatusStoreOptions, type Transition, type JobEventSink
} from './status-store'
export {
  CallbackUrlError, CallbackHostUnreachableError, CALLBACK_URL_MAX_LENGTH, checkCallbackUrl, resolveCallbackTarget, parseAllowHosts,
  type CallbackTarget, type HostResolver
} from './callback-url'
export { blockedReason } from './address-ranges'
export { JobLogTotal, type TotalQuery } from './job-log-total'
