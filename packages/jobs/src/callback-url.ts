import { isIP } from 'node:net'
import { promises as dns } from 'node:dns'
import { blockedReason } from './address-ranges'

/** A callback URL that must not be called (scheme, credentials, or a forbidden IP literal). Retrying cannot help. */
export class CallbackUrlError extends Error {
  readonly code = 'CALLBACK_URL_REFUSED'
}

/**
 * The callback host's name did not give an address we may reach: it does not
 * resolve (now), has no addresses, or one of them is private. All three are
 * one failure, retried alike: were a private answer refused at once while an
 * unknown name was retried, a job's status would tell a stranger which
 * internal names exist. `message` says which it was, for the worker's log only.
 */
export class CallbackHostUnreachableError extends Error {
  readonly code = 'CALLBACK_UNREACHABLE'
}

export const CALLBACK_URL_MAX_LENGTH = 2048

/** Resolves a host name to every address it has (same contract as `dns.promises.lookup` with `all: true`). */
export type HostResolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>

const systemResolver: HostResolver = (hostname) => dns.lookup(hostname, { all: true, verbatim: true })

/** Where a callback may go: the URL plus the one address that was checked and must be the one dialled. */
export interface CallbackTarget {
  url: URL
  address: string
  family: 4 | 6
  /** True when the host is in CALLBACK_ALLOW_HOSTS and so skipped the address check. */
  allowListed: boolean
}

/** CALLBACK_ALLOW_HOSTS (comma list) -> normalised host names. */
export function parseAllowHosts(csv: string | undefined): Set<string> {
  return new Set((csv ?? '').split(',').map(normaliseHost).filter((h) => h.length > 0))
}

function normaliseHost(host: string): string {
  return host.trim().toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '')
}

/**
 * The checks that need no DNS: an absolute http(s) URL without credentials,
 * and, when the host is an IP literal, an address we may reach. The WHATWG
 * parser has already turned `2130706433`, `127.1`, `0x7f.1` and `0177.0.0.1`
 * into `127.0.0.1`, so every spelling of an address is judged as that address.
 * The api runs this at submit time (quick 400s); the worker runs
 * `resolveCallbackTarget` again right before sending.
 */
export function checkCallbackUrl(raw: string, allowHosts: ReadonlySet<string> = new Set()): URL {
  if (raw.length > CALLBACK_URL_MAX_LENGTH) throw new CallbackUrlError(`callbackUrl is longer than ${CALLBACK_URL_MAX_LENGTH} characters`)
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new CallbackUrlError('callbackUrl is not a valid absolute URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CallbackUrlError(`callbackUrl scheme ${url.protocol.replace(/:$/, '')} is not allowed (http or https only)`)
  }
  // Credentials in a URL end up in logs and proxies; a receiver authenticates us by the signature instead.
  if (url.username !== '' || url.password !== '') throw new CallbackUrlError('callbackUrl must not contain credentials')
  const host = normaliseHost(url.hostname)
  if (host === '') throw new CallbackUrlError('callbackUrl has no host')
  if (!allowHosts.has(host) && isIP(host) !== 0) {
    const why = blockedReason(host)
    if (why) throw new CallbackUrlError(`callbackUrl address ${host} is not allowed (${why})`)
  }
  return url
}

/**
 * Full check at send time: the URL rules above, then EVERY address the host
 * resolves to must be allowed (one private answer among public ones is enough
 * to refuse: the client might pick it). Returns the checked address so the
 * caller connects to exactly that address; resolving again when connecting
 * would let a DNS-rebinding server answer differently the second time.
 */
export async function resolveCallbackTarget(
  raw: string,
  opts: { allowHosts?: ReadonlySet<string>; resolve?: HostResolver } = {}
): Promise<CallbackTarget> {
  const allowHosts = opts.allowHosts ?? new Set<string>()
  const url = checkCallbackUrl(raw, allowHosts)
  const host = normaliseHost(url.hostname)
  const allowListed = allowHosts.has(host)
  const literal = isIP(host)
  if (literal !== 0) return { url, address: host, family: literal as 4 | 6, allowListed }

  // A failed lookup (EAI_AGAIN, ENOTFOUND, a timeout) may pass (the resolver briefly
  // unreachable, a record still propagating); nothing is sent without a successful,
  // checked answer.
  let addresses: Array<{ address: string; family: number }>
  try {
    addresses = await (opts.resolve ?? systemResolver)(host)
  } catch (err) {
    const code = (err as { code?: string }).code
    throw new CallbackHostUnreachableError(`cannot resolve the callback host ${host}: ${code ?? (err as Error).message}`, { cause: err })
  }
  if (addresses.length === 0) throw new CallbackHostUnreachableError(`callbackUrl host ${host} has no addresses`)
  if (!allowListed) {
    for (const { address } of addresses) {
      const why = blockedReason(address)
      if (why) throw new CallbackHostUnreachableError(`callbackUrl host ${host} resolves to ${address}, which is not allowed (${why})`)
    }
  }
  const first = addresses[0]!
  return { url, address: first.address, family: first.family === 6 ? 6 : 4, allowListed }
}
