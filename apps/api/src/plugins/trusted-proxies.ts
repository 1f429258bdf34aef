import proxyAddr from '@fastify/proxy-addr'

/** TRUST_PROXY's entries (addresses, subnets, proxy-addr's names such as `loopback`); empty = none. */
export function trustedProxies(trustProxy: string): string[] {
  return trustProxy.split(',').map((s) => s.trim()).filter(Boolean)
}

/**
 * Whether a peer address is one of the trusted proxies, by the rule fastify
 * applies to X-Forwarded-For (proxy-addr), compiled once. Used for the
 * request id a proxy passes on and for the per-address connection cap.
 */
export function isTrustedProxy(entries: readonly string[]): (address: string) => boolean {
  if (entries.length === 0) return () => false
  const trusted = proxyAddr.compile([...entries])
  return (address) => trusted(address, 0)
}
