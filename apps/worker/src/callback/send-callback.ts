import http from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import { CallbackUrlError, resolveCallbackTarget, type HostResolver } from '@socialnet/jobs'
import { SIGNATURE_HEADER, signCallback } from './signature'

/**
 * A callback that did not get a 2xx; `permanent` says whether a retry could
 * change that. `message` is what the submitter may read in the job status;
 * `detail` (resolved addresses, socket errors) is for the worker's log only:
 * shown to the submitter it would map our internal DNS and open ports.
 */
export class CallbackFailedError extends Error {
  readonly code = 'CALLBACK_FAILED'
  readonly detail: string
  constructor(message: string, readonly permanent: boolean, detail?: string) {
    super(message)
    this.detail = detail ?? message
  }
}

/** The public reasons: they say what kind of failure it was, nothing about what is behind the target. */
const REFUSED = 'callback target refused: private address or unknown host'
const CONNECTION_FAILED = 'connection failed'

export interface CallbackSenderOptions {
  /** HMAC-SHA256 key for the X-Signature header. */
  secret: string
  timeoutMs: number
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
 * POSTs `body` (JSON) to `rawUrl`, signed. The URL is checked (scheme and
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
  extraHeaders: Record<string, string>,
  opts: CallbackSenderOptions
): Promise<CallbackDelivery> {
  let target
  try {
    target = await resolveCallbackTarget(rawUrl, { allowHosts: opts.allowHosts, resolve: opts.resolve })
  } catch (err) {
    if (err instanceof CallbackUrlError) throw new CallbackFailedError(REFUSED, true, err.message)
    throw new CallbackFailedError(CONNECTION_FAILED, false, `cannot resolve the callback host: ${(err as Error).message}`)
  }
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
      if (err) reject(err)
      else resolve({ statusCode: statusCode!, address })
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
        [SIGNATURE_HEADER]: signCallback(opts.secret, body),
        ...extraHeaders
      }
    }, (response) => {
      const statusCode = response.statusCode ?? 0
      let received = 0
      response.on('data', (chunk: Buffer) => {
        received += chunk.length
        // The answer is not needed beyond its status; a receiver streaming
        // gigabytes must not make us buffer them or hold the socket.
        if (received > opts.maxResponseBytes) {
          response.destroy()
          finish(...outcome(statusCode))
        }
      })
      response.on('end', () => finish(...outcome(statusCode)))
      response.on('error', (err) => finish(new CallbackFailedError(CONNECTION_FAILED, false, `callback response failed: ${err.message}`)))
    })
    const timer = setTimeout(() => {
      request.destroy()
      finish(new CallbackFailedError(CONNECTION_FAILED, false, `callback timed out after ${opts.timeoutMs} ms`))
    }, opts.timeoutMs)
    request.on('error', (err) => finish(new CallbackFailedError(CONNECTION_FAILED, false, `callback request failed: ${err.message}`)))
    request.end(body)
  })
}

/**
 * 2xx delivered; 3xx/4xx will not change on a retry (except 408, 425, 429); 5xx may.
 * The status is shown to the submitter: the target passed the address check, so it is theirs to know.
 */
function outcome(statusCode: number): [Error | undefined, number] {
  if (statusCode >= 200 && statusCode < 300) return [undefined, statusCode]
  if (statusCode >= 300 && statusCode < 400) {
    return [new CallbackFailedError(`callback answered ${statusCode}; redirects are not followed`, true), statusCode]
  }
  const retryable = statusCode >= 500 || statusCode === 408 || statusCode === 425 || statusCode === 429
  return [new CallbackFailedError(`callback answered ${statusCode}`, !retryable), statusCode]
}
