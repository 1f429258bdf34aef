import { BlockList, isIP } from 'node:net'

/*
 * Addresses a callback must never reach (OWASP SSRF prevention): everything
 * that is not global unicast. Listed as ranges rather than "is it public?"
 * heuristics so a reader can audit them against the IANA special-purpose
 * registries.
 */
const V4_BLOCKED: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'unspecified / "this network"'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata 169.254.169.254)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay anycast'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved and broadcast']
]

const V6_BLOCKED: Array<[string, number, string]> = [
  ['::', 96, 'unspecified, loopback and IPv4-compatible'],
  ['::ffff:0:0:0', 96, 'IPv4-translated, RFC 2765 (reaches embedded IPv4)'],
  ['64:ff9b::', 96, 'NAT64 (reaches embedded IPv4)'],
  ['64:ff9b:1::', 48, 'local NAT64'],
  ['100::', 64, 'discard-only'],
  ['2001::', 23, 'IETF protocol assignments incl. Teredo'],
  ['2001:db8::', 32, 'documentation'],
  ['2002::', 16, '6to4 (reaches embedded IPv4)'],
  ['fc00::', 7, 'unique local (private)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local (deprecated)'],
  ['ff00::', 8, 'multicast']
]

// IPv4-mapped IPv6 (::ffff:0:0/96) is not listed: blockedReason judges it by the IPv4
// address inside, and node's BlockList would otherwise match every IPv4 address against it.
const blocked = new BlockList()
for (const [net, prefix] of V4_BLOCKED) blocked.addSubnet(net, prefix, 'ipv4')
for (const [net, prefix] of V6_BLOCKED) blocked.addSubnet(net, prefix, 'ipv6')

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:7f00:1` -> `127.0.0.1`), if it is one. */
function mappedIPv4(address: string): string | undefined {
  const m = /^(?:0{0,4}:){0,5}:?ffff:(.+)$/i.exec(address.replace(/^\[|\]$/g, ''))
  if (!m) return undefined
  const tail = m[1]!
  if (isIP(tail) === 4) return tail
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(tail)
  if (!hex) return undefined
  const hi = parseInt(hex[1]!, 16)
  const lo = parseInt(hex[2]!, 16)
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.')
}

/**
 * Why `address` (an IP literal) may not be reached, or undefined if it is
 * global unicast. Anything that is not a valid IP is refused too.
 */
export function blockedReason(address: string): string | undefined {
  const bare = address.replace(/^\[|\]$/g, '')
  const family = isIP(bare)
  if (family === 0) return 'not an IP address'
  if (family === 6) {
    // Zone ids (fe80::1%eth0) only exist on link-local addresses.
    if (bare.includes('%')) return 'scoped IPv6 address'
    const v4 = mappedIPv4(bare)
    if (v4 !== undefined) {
      const inner = blockedReason(v4)
      return inner ? `IPv4-mapped ${inner}` : undefined
    }
  }
  if (!blocked.check(bare, family === 4 ? 'ipv4' : 'ipv6')) return undefined
  const ranges = family === 4 ? V4_BLOCKED : V6_BLOCKED
  const single = new BlockList()
  for (const [net, prefix, why] of ranges) {
    single.addSubnet(net, prefix, family === 4 ? 'ipv4' : 'ipv6')
    if (single.check(bare, family === 4 ? 'ipv4' : 'ipv6')) return why
  }
  return 'reserved'
}
