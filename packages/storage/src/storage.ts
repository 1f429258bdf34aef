import type { Readable } from 'node:stream'

/** What a stored object looks like when read back. */
export interface StoredObject {
  /** The bytes, streamed; the caller must consume or destroy it. */
  body: Readable
  size: number
  contentType: string | undefined
}

/** Result of a completed put. */
export interface PutResult {
  size: number
}

/**
 * Object storage behind one interface (local directory or S3-compatible bucket).
 * Keys are chosen by the server, never by a client: `assertValidKey` rejects
 * anything else, so no caller can reach outside the store.
 */
export interface ObjectStorage {
  /** Which driver this is ('local' or 's3'), for logs and metrics. */
  readonly driver: 'local' | 's3'
  /** Where the objects are (a directory, or `s3://bucket`), for messages that must say which store they mean. */
  readonly location: string
  /**
   * Stores a stream under `key`, replacing any object there. The object becomes
   * visible only complete: a failed or aborted put leaves nothing behind.
   */
  put(key: string, body: Readable, opts: { contentType: string }): Promise<PutResult>
  /** Opens an object for reading; undefined when there is none. */
  get(key: string): Promise<StoredObject | undefined>
  /** Removes an object; removing one that is absent is not an error. */
  delete(key: string): Promise<void>
  /**
   * A time-limited URL a client may GET directly, where the driver supports one
   * (S3); undefined otherwise.
   */
  presignGet(key: string, opts: { expiresInSeconds: number; contentType?: string }): Promise<string | undefined>
  /** Throws when the store cannot be reached (feeds readiness checks). */
  check(): Promise<void>
  /** Releases connections; idempotent. */
  close(): Promise<void>
}

/** A key the store refuses: only server-made keys are valid. */
export class InvalidKeyError extends Error {
  readonly code = 'STORAGE_INVALID_KEY'
}

/**
 * Keys are one or more segments of [A-Za-z0-9_-] with an optional `.ext`,
 * joined by `/`. No dots at a segment's start, so `.` and `..` cannot occur and
 * a key can never name a path outside the store or a hidden temp file.
 */
const KEY_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_-]*(\.[A-Za-z0-9]+)?(\/[A-Za-z0-9_-][A-Za-z0-9_-]*(\.[A-Za-z0-9]+)?)*$/

/** Throws InvalidKeyError unless `key` is a well-formed server-made key. */
export function assertValidKey(key: string): void {
  if (key.length === 0 || key.length > 512 || !KEY_PATTERN.test(key)) {
    throw new InvalidKeyError(`invalid storage key ${JSON.stringify(key.slice(0, 80))}`)
  }
}
