import { isIPv6 } from 'node:net'

/**
 * The network a client IP stands for when counting sign-ups: an IPv4 address
 * itself (an IPv4-mapped IPv6 address as the IPv4 it maps), but an IPv6
 * address's /64. One subscriber or server usually gets a whole /64, so counting
 * each IPv6 address apart would hand an attacker 2^64 budgets.
 */
export function clientNetwork(ip: string): string {
  if (!isIPv6(ip)) return ip
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (mapped) return mapped[1]!
  const [head = '', tail = ''] = ip.toLowerCase().split('%')[0]!.split('::')
  const left = head ? head.split(':') : []
  const right = ip.includes('::') ? (tail ? tail.split(':') : []) : []
  // An embedded IPv4 tail (::1.2.3.4) counts as two groups; only the first four groups matter here.
  const rightGroups = right.flatMap((g) => g.includes('.') ? ['0', '0'] : [g])
  const groups = ip.includes('::')
    ? [...left, ...Array<string>(8 - left.length - rightGroups.length).fill('0'), ...rightGroups]
    : left
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`
}
