import http from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import { CallbackHostUnreachableError, CallbackUrlError, resolveCallbackTarget, type HostResolver } from '@socialnet/jobs'
import { FailureCode } from '../errors'
import type { WebhookSigner } from './webhook-signer'

/**
 * A callback that did not get a 2xx; `permanent` says whether a retry could
 * change that, `code` says what kind of failure it was (CALLBACK_GONE,
 * CALLBACK_4XX, CALLBACK_5XX, ECONNREFUSED, EAI_AGAIN, ...). `message` is
 * what the submitter may read in the job status; `detail` (resolved
 * addresses, socket errors) is for the worker's log only: shown to the
 * submitter it would map our internal DNS and open ports.
 */
export class CallbackFailedError extends Error {
  readonly detail: string
  readonly statusCode: number | undefined
  /** The receiver's Retry-After (429/503), bounded by CALLBACK_RETRY_AFTER_MAX_MS. */
  readonly retryAfterMs: number | undefined
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly code: string,
    opts: { detail?: string; statusCode?: number; retryAfterMs?: number } = {}
  ) {
    super(message)
    this.detail = opts.detail ?? message
    this.statusCode = opts.statusCode
    this.retryAfterMs = opts.retryAfterMs
  }
}

/** The job was cancelled while its callback was in flight; the request was aborted. */
export class CallbackAbortedError extends Error {
  readonly code = 'CALLBACK_ABORTED'
}

/** The public reasons: they say what kind of failure it was, nothing about what is behind the target. */
const REFUSED = 'callback target refused: private address or unknown host'
const CONNECTION_FAILED = 'connection failed'
/** A name that does not resolve and one that resolves to a private address read the same (and are retried the same). */
const UNREACHABLE = 'CALLBACK_UNREACHABLE: could not reach the callback host'

export interface CallbackSenderOptions {
  /** Standard Webhooks signatures (CALLBACK_SECRET). */
  signer: WebhookSigner
  timeoutMs: number
  /** CALLBACK_RETRY_AFTER_MAX_MS: the longest Retry-After honoured. */
  retryAfterMaxMs: number
  /** The receiver's answer is read up to this many bytes, then the connection is dropped. */
  maxResponseBytes: number
  /** CALLBACK_ALLOW_HOSTS, normalised (parseAllowHosts). */
  allowHosts: ReadonlySet<string>
  /** DNS resolver; the system's unless a test plays a hostile DNS server. */
  resolve?: HostResolver
}

/** What a delivered callback tells the job status. */
export interface CallbackDelivery {
  statusCode: number
  /** The address we connected to (the one that passed the SSRF check). */
  address: string
}

/**
 * POSTs `body` (JSON) to `rawUrl`, signed per Standard Webhooks with
 * `webhookId` (the same on every retry, so a receiver can dedupe). `signal`
 * aborts the request (the job was cancelled). The URL is checked (scheme and
 * every resolved address, see @socialnet/jobs) right here at send time, and
 * the socket is then pinned to the address that passed: the lookup handed
 * to http.request answers with it instead of asking DNS again, so a
 * rebinding DNS server cannot swap in 127.0.0.1 between check and connect.
 * TLS still verifies the certificate against the host name. Redirects are
 * never followed (node:http does not follow them; a 3xx is a failure).
 */
export async function sendCallback(
  rawUrl: string,
  body: string,
  webhookId: string,
  opts: CallbackSenderOptions,
  signal?: AbortSignal
): Promise<CallbackDelivery> {
  if (signal?.aborted) throw new CallbackAbortedError('callback aborted: the job was cancelled')
  let target
  try {
    target = await resolveCallbackTarget(rawUrl, { allowHosts: opts.allowHosts, resolve: opts.resolve })
  } catch (err) {
    // Refused without DNS (scheme, credentials, a private IP literal): the URL itself says so, retrying cannot help.
    if (err instanceof CallbackUrlError) throw new CallbackFailedError(REFUSED, true, FailureCode.CALLBACK_TARGET_REFUSED, { detail: err.message })
    // The name gave no address we may reach, whichever way: one text, retried, so a job's
    // status cannot tell a name that resolves inside from one that does not resolve at all.
    if (err instanceof CallbackHostUnreachableError) throw new CallbackFailedError(UNREACHABLE, false, FailureCode.CALLBACK_UNREACHABLE, { detail: err.message })
    throw err
  }
  // Cancelled during the DNS lookup: the abort listener below would never hear of it.
  if (signal?.aborted) throw new CallbackAbortedError('callback aborted: the job was cancelled')
  const { address, family } = target
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if (options.all) (callback as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address, family }])
    else callback(null, address, family)
  }
  const client = target.url.protocol === 'https:' ? https : http

  return new Promise<CallbackDelivery>((resolve, reject) => {
    let settled = false
    const finish = (err: Error | undefined, statusCode?: number): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      if (err) reject(err)
      else resolve({ statusCode: statusCode!, address })
    }
    const onAbort = (): void => {
      request.destroy()
      finish(new CallbackAbortedError('callback aborted: the job was cancelled'))
    }
    const request = client.request(target.url, {
      method: 'POST',
      agent: false,
      lookup: pinned,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'user-agent': 'socialnet-worker (job callback)',
        connection: 'close',
        ...opts.signer.headers(webhookId, body)
      }
    }, (response) => {
      const statusCode = response.statusCode ?? 0
      const result = outcome(statusCode, response.headers['retry-after'], opts.retryAfterMaxMs)
      let received = 0
      response.on('data', (chunk: Buffer) => {
        received += chunk.length
        // The answer is not needed beyond its status; a receiver streaming
        // gigabytes must not make us buffer them or hold the socket.
        if (received > opts.maxResponseBytes) {
          response.destroy()
          finish(...result)
        }
      })
      response.on('end', () => finish(...result))
      response.on('error', (err) => finish(new CallbackFailedError(CONNECTION_FAILED, false, FailureCode.ECONNRESET, { detail: `callback response failed: ${err.message}`, statusCode })))
    })
    const timer = setTimeout(() => {
      request.destroy()
      finish(new CallbackFailedError(CONNECTION_FAILED, false, FailureCode.ETIMEDOUT, { detail: `callback timed out after ${opts.timeoutMs} ms` }))
    }, opts.timeoutMs)
    signal?.addEventListener('abort', onAbort, { once: true })
    request.on('error', (err: Error & { code?: string }) => {
      finish(new CallbackFailedError(CONNECTION_FAILED, false, err.code ?? FailureCode.CONNECTION_FAILED, { detail: `callback request failed: ${err.message}` }))
    })
    request.end(body)
  })
}

/**
 * 2xx delivered. 410 Gone: the receiver wants no more, never retried. 3xx
 * (redirects are not followed) and other 4xx will not change on a retry;
 * 408, 425, 429 and 5xx may, and 429/503 say when in Retry-After.
 * The status is shown to the submitter: the target passed the address check, so it is theirs to know.
 */
function outcome(statusCode: number, retryAfter: string | undefined, retryAfterMaxMs: number): [Error | undefined, number] {
  if (statusCode >= 200 && statusCode < 300) return [undefined, statusCode]
  const fail = (message: string, permanent: boolean, code: string, retryAfterMs?: number): [Error, number] =>
    [new CallbackFailedError(message, permanent, code, { statusCode, retryAfterMs }), statusCode]
  if (statusCode === 410) return fail('callback answered 410 (gone); not retried', true, FailureCode.CALLBACK_GONE)
  if (statusCode >= 300 && statusCode < 400) return fail(`callback answered ${statusCode}; redirects are not followed`, true, FailureCode.CALLBACK_REDIRECT)
  if (statusCode === 429 || statusCode === 503) {
    const wait = parseRetryAfter(retryAfter)
    return fail(`callback answered ${statusCode}`, false, statusCode === 429 ? FailureCode.CALLBACK_429 : FailureCode.CALLBACK_5XX, wait === undefined ? undefined : Math.min(wait, retryAfterMaxMs))
  }
  if (statusCode >= 500 || statusCode === 408 || statusCode === 425) return fail(`callback answered ${statusCode}`, false, statusCode >= 500 ? FailureCode.CALLBACK_5XX : statusCode === 408 ? FailureCode.CALLBACK_408 : FailureCode.CALLBACK_425)
  return fail(`callback answered ${statusCode}`, true, FailureCode.CALLBACK_4XX)
}

/** Retry-After as delay-seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
