import { PermanentError, TransientError } from './errors'
import type { AnyConsumedMessage } from './message'

/** What the consumer tells a handler about the delivery, so no handler re-derives the consumer's rules. */
export interface HandlerContext {
  /** 1 on the first attempt. */
  attempt: number
  /** True when a failure of this attempt dead-letters the message instead of retrying it. */
  isLastAttempt: boolean
}

/**
 * Handles one message; resolving acks it, throwing retries it or
 * dead-letters it (PermanentError, or the last attempt; see Consumer), or
 * defers it without spending an attempt (DeferredError).
 */
export type MessageHandler = (message: AnyConsumedMessage, context: HandlerContext) => Promise<void>

/** Why a message left the work queue for the dead-letter queue. */
export type FailureKind = 'malformed' | 'permanent' | 'exhausted'

/**
 * The consumer's decision about a failed message, made in one place
 * (`classifyFailure` + the attempt count) and handed to `onFailure`.
 */
export type FailureOutcome = {
  messageId?: string
  type?: string
  attempt: number
  code: string
  /** What the dead-letter or retry headers say (an exhausted message: "failed N attempts, last: <error>"). */
  reason: string
  /** The failed attempt's own error message. */
  error: string
} & (
  | { action: 'retry'; delayMs: number; permanent: false }
  | { action: 'dead-letter'; kind: FailureKind; permanent: boolean }
  /** The handler threw DeferredError: back after `delayMs`, same attempt; `deferrals` counts this one too. */
  | { action: 'defer'; delayMs: number; deferrals: number; scope: string | undefined; permanent: false }
)

/** What the consumer makes of a handler's error: retry it (transient) or dead-letter it at once (permanent). */
export interface FailureClass {
  permanent: boolean
  /** Stable code: the error's own, or a node/system code (`ECONNREFUSED`), or `UNCLASSIFIED`. */
  code: string
  /** One line for logs and dead-letter headers. */
  reason: string
  /** Earliest retry the failure asked for (Retry-After), if any. */
  retryAfterMs?: number
}

/**
 * Network and DNS failures that say nothing about the message itself: a
 * later attempt may well get through. `ENOTFOUND` is here on purpose: a
 * resolver that is briefly unreachable or a record still propagating looks
 * the same as a name that does not exist, and the retry schedule bounds what
 * a truly missing name costs.
 */
const TRANSIENT_SYSTEM_CODES = new Set([
  'EAI_AGAIN', 'ENOTFOUND', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ECONNABORTED', 'EPIPE',
  'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN', 'ESOCKETTIMEDOUT', 'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'ABORT_ERR'
])

/**
 * The one place that decides retry or dead letter. Handlers throw
 * PermanentError or TransientError (with a code) when they know; a raw error
 * that escaped them is transient when it is a known network/DNS failure and
 * also when it is unknown (a bug or an outage is more often fixed by a later
 * attempt, and the attempt limit bounds the cost).
 */
export function classifyFailure(err: unknown): FailureClass {
  const reason = describe(err)
  if (err instanceof PermanentError) return { permanent: true, code: err.code, reason }
  if (err instanceof TransientError) {
    return err.retryAfterMs === undefined
      ? { permanent: false, code: err.code, reason }
      : { permanent: false, code: err.code, reason, retryAfterMs: err.retryAfterMs }
  }
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string' && TRANSIENT_SYSTEM_CODES.has(code)) return { permanent: false, code, reason }
  return { permanent: false, code: 'UNCLASSIFIED', reason }
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message || err.name
  return String(err)
}
