import { CallbackHostUnreachableError, CallbackUrlError, checkCallbackUrl, parseAllowHosts, resolveCallbackTarget, type HostResolver } from '../src'

/** A resolver answering from a fixed table: lets a test play a hostile DNS server. */
function fakeDns(table: Record<string, string[]>): HostResolver {
  return async (host) => {
    const answers = table[host]
    if (!answers) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })
    return answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
  }
}

const dnsTable = fakeDns({
  'public.example': ['93.184.215.14'],
  'private.example': ['10.1.2.3'],
  'metadata.example': ['169.254.169.254'],
  'mixed.example': ['93.184.215.14', '127.0.0.1'],
  'v6-loopback.example': ['::1'],
  'v6-ula.example': ['fd12:3456::1'],
  'v6-mapped.example': ['::ffff:10.0.0.1']
})

describe('callback URL guard (SSRF)', () => {
  // Every one of these must be refused before a single byte is sent.
  test.each([
    ['loopback', 'http://127.0.0.1/hook'],
    ['loopback, other /8 address', 'http://127.8.9.10/'],
    ['loopback as a decimal integer', 'http://2130706433/'],
    ['loopback, short form', 'http://127.1/'],
    ['loopback, octal', 'http://0177.0.0.1/'],
    ['loopback, hex', 'http://0x7f000001/'],
    ['loopback, mixed hex/octal dotted', 'http://0x7f.0.0.01/'],
    ['unspecified 0.0.0.0', 'http://0.0.0.0:8080/'],
    ['unspecified, decimal 0', 'http://0/'],
    ['private 10/8', 'http://10.0.0.1/'],
    ['private 172.16/12', 'http://172.31.255.1/'],
    ['private 192.168/16', 'https://192.168.1.1/'],
    ['carrier-grade NAT', 'http://100.64.0.1/'],
    ['cloud metadata (link-local)', 'http://169.254.169.254/latest/meta-data/'],
    ['cloud metadata, decimal', 'http://2852039166/'],
    ['multicast', 'http://224.0.0.1/'],
    ['broadcast', 'http://255.255.255.255/'],
    ['IPv6 loopback', 'http://[::1]/'],
    ['IPv6 unspecified', 'http://[::]/'],
    ['IPv6 unique local', 'http://[fc00::1]/'],
    ['IPv6 unique local fd00::/8', 'http://[fd00:ec2::254]/'],
    ['IPv6 link-local', 'http://[fe80::1]/'],
    ['IPv6 multicast', 'http://[ff02::1]/'],
    ['IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]/'],
    ['IPv4-mapped IPv6 metadata, hex', 'http://[::ffff:a9fe:a9fe]/'],
    ['IPv4-compatible IPv6', 'http://[::127.0.0.1]/'],
    ['NAT64 of loopback', 'http://[64:ff9b::7f00:1]/'],
    ['6to4 of private', 'http://[2002:a00:1::]/'],
    ['not http(s): file', 'file:///etc/passwd'],
    ['not http(s): gopher', 'gopher://93.184.215.14:70/_x'],
    ['not http(s): ftp', 'ftp://public.example/'],
    ['not http(s): javascript', 'javascript:alert(1)'],
    ['credentials in URL', 'http://user:pass@public.example/'],
    ['relative URL', '/v1/jobs'],
    ['garbage', 'http://'],
    ['name resolving to private', 'http://private.example/'],
    ['name resolving to metadata', 'http://metadata.example/'],
    ['name with one private answer among public ones', 'http://mixed.example/'],
    ['name resolving to IPv6 loopback', 'http://v6-loopback.example/'],
    ['name resolving to IPv6 unique local', 'http://v6-ula.example/'],
    ['name resolving to IPv4-mapped private', 'http://v6-mapped.example/'],
    ['localhost (real resolver)', 'http://localhost/']
  ])('refuses %s: %s', async (_why, url) => {
    const named = /^https?:\/\/[a-z0-9-]+\.example\/|localhost/.test(url)
    const resolve = url.includes('localhost') ? undefined : dnsTable
    // A literal is refused as a URL (retrying cannot help, and it tells nothing the submitter did not
    // write); a name's private answer is an unreachable host, just like a name that does not resolve.
    await expect(resolveCallbackTarget(url, { resolve })).rejects.toBeInstanceOf(named ? CallbackHostUnreachableError : CallbackUrlError)
  })

  test('a name that does not resolve (now) fails exactly like one resolving to a private address', async () => {
    const unknown = await resolveCallbackTarget('http://nx.example/', { resolve: dnsTable }).catch((e: unknown) => e)
    const internal = await resolveCallbackTarget('http://private.example/', { resolve: dnsTable }).catch((e: unknown) => e)
    for (const err of [unknown, internal]) {
      expect(err).toBeInstanceOf(CallbackHostUnreachableError)
      expect(err).not.toBeInstanceOf(CallbackUrlError)
      expect(err).toMatchObject({ code: 'CALLBACK_UNREACHABLE' })
    }
    expect((unknown as Error).message).toMatch(/ENOTFOUND|ENODATA|EAI_AGAIN/)
  })

  test('accepts a public address and returns it for pinning', async () => {
    const target = await resolveCallbackTarget('https://public.example/hook?a=1', { resolve: dnsTable })
    expect(target).toMatchObject({ address: '93.184.215.14', family: 4, allowListed: false })
    expect(target.url.href).toBe('https://public.example/hook?a=1')
  })

  test('accepts a public IP literal and a public IPv4-mapped one', async () => {
    await expect(resolveCallbackTarget('http://93.184.215.14/')).resolves.toMatchObject({ address: '93.184.215.14' })
    await expect(resolveCallbackTarget('http://[::ffff:93.184.215.14]/')).resolves.toMatchObject({ family: 6 })
  })

  test('CALLBACK_ALLOW_HOSTS lets the listed host through, and only that host', async () => {
    const allowHosts = parseAllowHosts(' 127.0.0.1 , Private.Example. ')
    await expect(resolveCallbackTarget('http://127.0.0.1:9/', { allowHosts })).resolves.toMatchObject({ allowListed: true })
    await expect(resolveCallbackTarget('http://private.example/', { allowHosts, resolve: dnsTable })).resolves.toMatchObject({ address: '10.1.2.3' })
    // Another spelling of the same address is a different host: not on the list.
    await expect(resolveCallbackTarget('http://127.0.0.2/', { allowHosts })).rejects.toBeInstanceOf(CallbackUrlError)
    await expect(resolveCallbackTarget('http://localhost/', { allowHosts })).rejects.toBeInstanceOf(CallbackHostUnreachableError)
  })

  test('the DNS-free check (api submit time) refuses literals but leaves names to the send-time check', () => {
    expect(() => checkCallbackUrl('http://2130706433/')).toThrow(/127\.0\.0\.1 is not allowed \(loopback\)/)
    expect(() => checkCallbackUrl('http://[::ffff:169.254.169.254]/')).toThrow(/link-local/)
    expect(checkCallbackUrl('http://private.example/').hostname).toBe('private.example')
  })

  // Every IANA special-purpose IPv6 range that embeds or translates an IPv4 address, each
  // carrying 127.0.0.1 (or 10.0.0.1): a guard missing one lets a callback reach the inside.
  test.each([
    ['NAT64 well-known prefix 64:ff9b::/96', '64:ff9b::7f00:1'],
    ['local-use NAT64 64:ff9b:1::/48 (RFC 8215)', '64:ff9b:1::7f00:1'],
    ['6to4 2002::/16', '2002:7f00:1::1'],
    ['Teredo 2001::/32', '2001:0:4136:e378:8000:63bf:80ff:fffe'],
    ['IPv4-mapped ::ffff:0:0/96', '::ffff:7f00:1'],
    ['IPv4-mapped, dotted tail', '::ffff:10.0.0.1'],
    ['IPv4-translated ::ffff:0:0:0/96 (RFC 2765)', '::ffff:0:7f00:1'],
    ['IPv4-translated, dotted tail', '::ffff:0:10.0.0.1'],
    ['IPv4-translated, public inside (never global unicast)', '::ffff:0:5db8:d70e'],
    ['IPv4-compatible ::/96', '::7f00:1']
  ])('refuses the IPv4-embedding range %s: %s', async (_range, address) => {
    expect(() => checkCallbackUrl(`http://[${address}]/`)).toThrow(CallbackUrlError)
    await expect(resolveCallbackTarget(`http://[${address}]/`)).rejects.toBeInstanceOf(CallbackUrlError)
  })

  test('a DNS failure other than "no such name" is left retryable', async () => {
    const flaky: HostResolver = async () => { throw Object.assign(new Error('timeout'), { code: 'EAI_AGAIN' }) }
    const err = await resolveCallbackTarget('http://public.example/', { resolve: flaky }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CallbackHostUnreachableError)
    expect(err).not.toBeInstanceOf(CallbackUrlError)
  })
})
