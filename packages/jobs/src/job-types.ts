/** The kinds of job `POST /v1/jobs` accepts; each travels as its own versioned message type. */
export const JOB_TYPES = ['log', 'callback', 'email'] as const
export type JobType = (typeof JOB_TYPES)[number]

/** AMQP `type` property (contract name in @socialnet/contracts) of each job's message. */
export const JOB_MESSAGE_TYPES = {
  log: 'job.log.v1',
  callback: 'job.callback.v1',
  email: 'job.email.v1'
} as const satisfies Record<JobType, string>

export type JobMessageType = (typeof JOB_MESSAGE_TYPES)[JobType]

/** The job type a message type carries, or undefined for a message that is not a job. */
export function jobTypeOfMessage(messageType: string): JobType | undefined {
  return JOB_TYPES.find((t) => JOB_MESSAGE_TYPES[t] === messageType)
}

/** Canonical (lower-case, hyphenated) UUID: the only job id form the api hands out or accepts. */
export const JOB_ID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
const JOB_ID_RE = new RegExp(JOB_ID_PATTERN)

/** True when `id` has the shape of a job id (says nothing about whether the job exists). */
export function isJobId(id: string): boolean {
  return JOB_ID_RE.test(id)
}
