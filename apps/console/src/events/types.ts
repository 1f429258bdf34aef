import type { JobStatus, QueueStats, ReplicaSeen, UnackedSource } from '../api/types'

/** Why an address is on the suppression list. */
export type SuppressionReason = 'hard_bounce' | 'soft_bounce_limit' | 'complaint' | 'manual'

/** `data` of each event type (docs/events.md); durations are milliseconds. */
export interface EventDataByType {
  'user.registered': { nickname: string; verificationMail?: 'queued' | 'withheld'; mailMessageId?: string }
  'outbox.published': { messageId: string; messageType: string; waitedMs: number; batchSize: number }
  'mail.consumed': { messageId: string; messageType: string; attempt: number; queuedMs: number }
  'mail.sent': { messageId: string; smtpResponse: string; durationMs: number }
  'mail.duplicate_skipped': { messageId: string }
  'mail.retry_scheduled': { messageId: string; attempt: number; retryAt: string; reason: string }
  'mail.dead_lettered': { messageId: string; attempts: number; reason: string; permanent: boolean }
  'mail.deferred': { messageId: string; attempt: number; smtpCode?: number; reason: string }
  'mail.bounced': { messageId: string; kind: 'hard' | 'soft' | 'complaint'; source?: 'smtp' | 'dsn' | 'arf'; status?: string; smtpCode?: number; diagnostic?: string | null }
  'mail.suppressed': { messageId: string; reason: SuppressionReason }
  'mail.throttled': { messageId: string; domain: string; retryAt: string }
  'job.status': { jobId: string; jobType: string; status: JobStatus; attempts: number; error?: string; durationMs?: number }
  'image.stored': { imageId: string; bytes: number; contentType: string }
  'image.thumbnails_made': { imageId: string; sizes: number[]; durationMs: number }
  'queue.stats': { queues: QueueStats[]; unackedSource: UnackedSource; replicas: ReplicaSeen[] }
  'stream.dropped': { reason: string }
  'stream.end': { reason: string }
}

export type EventType = keyof EventDataByType

/** The fields every event has. */
interface EventBase {
  id: string
  at: string
  service: string
  replica: string
  subject?: string
  userId?: string
}

/** One event of a known type, its `data` typed by `type`. */
export type SystemEvent = { [K in EventType]: EventBase & { type: K; data: EventDataByType[K] } }[EventType]

/** An event of a type this console does not know yet (a newer server): shown by its type name. */
export type OtherEvent = EventBase & { type: string; data: Record<string, unknown> }

export type AnyEvent = SystemEvent | OtherEvent

/** Narrows an event to one known type. */
export function isEvent<K extends EventType>(event: AnyEvent, type: K): event is EventBase & { type: K; data: EventDataByType[K] } {
  return event.type === type
}
