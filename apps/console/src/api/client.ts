import { sessionToken } from '../session/token'
import type { ErrorBody } from './types'

/** An answer other than 2xx, with the API's own error code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorBody['details'] = undefined,
    /** From a 429's or 503's `Retry-After` (seconds); undefined when the server did not say. */
    readonly retryAfterSeconds: number | undefined = undefined
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export interface RequestOptions {
  /** Sent as JSON. */
  body?: unknown
  /** Sent as multipart/form-data (uploads). */
  form?: FormData
  signal?: AbortSignal
}

/** The headers every call sends: JSON wanted, and the session token when signed in. */
export function authHeaders(): Record<string, string> {
  const token = sessionToken.value
  return token ? { authorization: `Bearer ${token}` } : {}
}

/** `Retry-After` in seconds; the HTTP-date form and anything unreadable give undefined. */
function retryAfterOf(response: Response): number | undefined {
  const value = response.headers.get('retry-after')
  return value !== null && /^\d+$/.test(value.trim()) ? Number(value) : undefined
}

/** Reads an error body; a proxy's HTML page or an empty body still gives a message. */
async function errorFrom(response: Response): Promise<ApiError> {
  const body = (await response.json().catch(() => undefined)) as Partial<ErrorBody> | undefined
  return new ApiError(
    response.status,
    body?.error ?? `HTTP_${response.status}`,
    body?.message ?? (response.statusText || `the server answered ${response.status}`),
    body?.details,
    retryAfterOf(response)
  )
}

/**
 * One API call, same origin. A 401 while signed in means the session ended
 * (expired, logged out elsewhere): the token is dropped and the pages that
 * need it send the person to the log-in page.
 */
export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders() }
  let body: BodyInit | undefined
  if (options.form) body = options.form
  else if (options.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(options.body)
  }
  let response: Response
  try {
    response = await fetch(path, { method, headers, body, signal: options.signal, cache: 'no-store' })
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err
    throw new ApiError(0, 'NETWORK', 'the server cannot be reached; check the connection and try again')
  }
  if (!response.ok) {
    if (response.status === 401 && headers.authorization) sessionToken.value = null
    throw await errorFrom(response)
  }
  if (response.status === 204) return undefined as T
  return (await response.json()) as T
}

export const api = {
  get: <T>(path: string, options?: RequestOptions) => request<T>('GET', path, options),
  post: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('POST', path, { ...options, body }),
  put: <T>(path: string, options?: RequestOptions) => request<T>('PUT', path, options),
  delete: <T>(path: string, options?: RequestOptions) => request<T>('DELETE', path, options)
}
