import { validateMessage, type MessagePayload, type MessageType } from '@socialnet/contracts'
import type { ConsumeMessage, MessageProperties, Options } from 'amqplib'

/** Header counting attempts: absent on the first delivery, n on the n-th (set when re-queued for retry). */
export const ATTEMPT_HEADER = 'x-attempt'
/** Headers a dead-lettered message carries, so whoever reads the DLQ sees why. */
export const FAILURE_HEADERS = {
  kind: 'x-failure-kind',
  reason: 'x-failure-reason',
  failedAt: 'x-failed-at',
  queue: 'x-failure-queue',
  /** Stable code of the failure (`SMTP_5XX`, `ECONNREFUSED`, `MALFORMED`, ...). */
  code: 'x-failure-code',
  /** When the message first failed (set on its first retry or dead letter, kept afterwards). */
  firstFailedAt: 'x-first-failed-at'
} as const
/**
 * Headers of a deferred message (DeferredError): how many times it was
 * deferred, and when first, from which the consumer's maxDeferralMs counts.
 */
export const DEFERRAL_HEADERS = {
  count: 'x-deferrals',
  firstDeferredAt: 'x-first-deferred-at'
} as const
/** Header on a message waiting in a retry queue: the error of the attempt before. */
export const LAST_ERROR_HEADER = 'x-last-error'

/** A delivered message after decoding and validation, as a handler sees it. */
export interface ConsumedMessage<T extends MessageType = MessageType> {
  messageId: string
  type: T
  payload: MessagePayload<T>
  /** 1 on the first attempt; a retry after a handler error increments it. */
  attempt: number
  headers: Record<string, unknown>
  /** The broker delivered this before (a consumer died or its channel closed while holding it). */
  redelivered: boolean
  timestamp: Date | undefined
}

/** Any known message, narrowed by `type` (`switch (message.type)`). */
export type AnyConsumedMessage = { [K in MessageType]: ConsumedMessage<K> }[MessageType]

/** Outcome of decoding: a usable message, or the reason it is malformed. */
export type Decoded = { ok: true; message: AnyConsumedMessage } | { ok: false; reason: string; attempt: number }

/** Reads the attempt header defensively: anything but a positive integer counts as the first attempt. */
export function attemptOf(raw: ConsumeMessage): number {
  const value = Number(raw.properties.headers?.[ATTEMPT_HEADER])
  return Number.isInteger(value) && value >= 1 ? value : 1
}

/**
 * Turns a raw delivery into a ConsumedMessage, or explains why it cannot be
 * one (missing id or type, not JSON, unknown type, wrong shape, a type this
 * queue does not accept). Never throws.
 */
export function decodeMessage(raw: ConsumeMessage, accepts?: readonly MessageType[]): Decoded {
  const attempt = attemptOf(raw)
  const { messageId, type, contentType, headers, timestamp } = raw.properties
  const fail = (reason: string): Decoded => ({ ok: false, reason, attempt })
  if (typeof messageId !== 'string' || messageId === '') return fail('missing messageId property')
  if (typeof type !== 'string' || type === '') return fail('missing type property')
  if (contentType !== undefined && contentType !== 'application/json') return fail(`unsupported contentType ${String(contentType)}`)
  if (accepts && !accepts.includes(type as MessageType)) return fail(`type ${type} is not accepted on this queue`)
  let body: unknown
  try {
    body = JSON.parse(raw.content.toString('utf8'))
  } catch (err) {
    return fail(`body is not valid JSON: ${(err as Error).message}`)
  }
  let payload: unknown
  try {
    payload = validateMessage(type, body)
  } catch (err) {
    return fail((err as Error).message)
  }
  return {
    ok: true,
    message: {
      messageId,
      type: type as MessageType,
      payload,
      attempt,
      headers: { ...(headers ?? {}) },
      redelivered: raw.fields.redelivered,
      timestamp: typeof timestamp === 'number' ? new Date(timestamp * 1000) : undefined
    } as AnyConsumedMessage
  }
}

/**
 * Publish options that copy a received message as it was (id, type,
 * encoding, timestamp, correlation): a retry, a dead letter or a replay is
 * the same message moved, with the headers the mover decides.
 */
export function copyOptions(p: MessageProperties, headers: Record<string, unknown>): Options.Publish {
  return {
    messageId: p.messageId,
    type: p.type,
    contentType: p.contentType,
    contentEncoding: p.contentEncoding,
    timestamp: p.timestamp,
    correlationId: p.correlationId,
    appId: p.appId,
    headers
  }
}
