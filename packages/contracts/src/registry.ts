import './formats'
import type { Static, TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { MailSendV1, MailWelcomeV1 } from './mail'
import { JobCallbackV1, JobEmailV1, JobLogV1 } from './job'
import { ImageThumbnailsV1 } from './image'

/**
 * Every message the system sends, by its AMQP `type` property
 * (`<area>.<name>.v<version>`). A breaking change is a new version with its
 * own entry; the old one stays until no producer sends it any more.
 */
export const MESSAGE_SCHEMAS = {
  'mail.welcome.v1': MailWelcomeV1,
  'mail.send.v1': MailSendV1,
  'job.log.v1': JobLogV1,
  'job.callback.v1': JobCallbackV1,
  'job.email.v1': JobEmailV1,
  'image.thumbnails.v1': ImageThumbnailsV1
} as const satisfies Record<string, TSchema>

/** A known message type, e.g. `mail.welcome.v1`. */
export type MessageType = keyof typeof MESSAGE_SCHEMAS

/** The payload type of one message type. */
export type MessagePayload<T extends MessageType> = Static<(typeof MESSAGE_SCHEMAS)[T]>

/** All message types, for loops (schema export, consumers listing what they accept). */
export const MESSAGE_TYPES = Object.keys(MESSAGE_SCHEMAS) as MessageType[]

/** Raised when a message cannot be used: unknown type or payload not matching its schema. */
export class MalformedMessageError extends Error {
  readonly code = 'MESSAGE_MALFORMED'
  override readonly name = 'MalformedMessageError'
}

// Compiled once per type on first use: the compiled check is ~10x faster than
// interpreting the schema, and the mailer validates every delivery.
const compiled = new Map<MessageType, TypeCheck<TSchema>>()

/** True when `type` names a message this version of the contracts knows. */
export function isMessageType(type: unknown): type is MessageType {
  return typeof type === 'string' && Object.hasOwn(MESSAGE_SCHEMAS, type)
}

/**
 * Checks `payload` against the schema of `type` and returns it typed, or
 * throws MalformedMessageError naming the first offending field.
 */
export function validateMessage<T extends MessageType>(type: T, payload: unknown): MessagePayload<T>
export function validateMessage(type: string, payload: unknown): unknown
export function validateMessage(type: string, payload: unknown): unknown {
  if (!isMessageType(type)) throw new MalformedMessageError(`unknown message type ${JSON.stringify(type)}`)
  let check = compiled.get(type)
  if (!check) {
    check = TypeCompiler.Compile(MESSAGE_SCHEMAS[type])
    compiled.set(type, check)
  }
  if (check.Check(payload)) return payload
  const first = check.Errors(payload).First()
  const where = first?.path ? first.path : '(payload)'
  throw new MalformedMessageError(`${type}: ${where} ${first?.message ?? 'is invalid'}`)
}
