import { clientNetwork } from '../../src/users/client-network'

describe('clientNetwork: what one sign-up budget covers', () => {
  test.each([
    ['IPv4 as it is', '192.0.2.7', '192.0.2.7'],
    ['IPv4-mapped IPv6 as its IPv4', '::ffff:192.0.2.7', '192.0.2.7'],
    ['IPv6: its /64', '2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['IPv6 with :: in the host part', '2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['IPv6 with :: in the network part', '2001:db8::1', '2001:db8:0:0::/64'],
    ['IPv6 leading zeros and case', '2001:0DB8:0001:0002::ff', '2001:db8:1:2::/64'],
    ['IPv6 loopback', '::1', '0:0:0:0::/64'],
    ['IPv6 with a zone', 'fe80::1%eth0', 'fe80:0:0:0::/64']
  ])('%s', (_name, ip, network) => {
    expect(clientNetwork(ip)).toBe(network)
  })

  test('two addresses of one /64 share a budget, another /64 does not', () => {
    expect(clientNetwork('2001:db8:1:2::a')).toBe(clientNetwork('2001:db8:1:2:ffff::b'))
    expect(clientNetwork('2001:db8:1:3::a')).not.toBe(clientNetwork('2001:db8:1:2::a'))
  })
})
