import type { QueueRegistration, WorkerDeps } from './queue-registration'
import { jobsQueue } from './jobs'
import { thumbnailsQueue } from './thumbnails'

/**
 * The queues this worker consumes, one Consumer each. To add one (the
 * `thumbnails` queue): write `src/handlers/<name>.ts` exporting
 * `(deps: WorkerDeps) => QueueRegistration` (queue-registration.ts), add what it needs to
 * WorkerDeps/config, and list it here.
 */
export const QUEUES: Array<(deps: WorkerDeps) => QueueRegistration> = [
  jobsQueue,
  thumbnailsQueue
]
