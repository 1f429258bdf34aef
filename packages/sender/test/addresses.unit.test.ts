import { addressKey, domainOf, mailboxKey, parseVerpAddress, verpReturnPath } from '../src'

describe('recipient address keys', () => {
  test.each([
    ['Victim+a1@Victim.Example', 'victim@victim.example'],
    ['victim+@victim.example', 'victim@victim.example'],
    ['  Ada@Example.COM ', 'ada@example.com'],
    ['+tag@example.com', '+tag@example.com'],
    ['no-at-sign', 'no-at-sign']
  ])('mailbox of %s is %s', (address, mailbox) => {
    expect(mailboxKey(address)).toBe(mailbox)
  })

  test('the address key keeps the +tag: a bounce speaks for that exact address', () => {
    expect(addressKey('Victim+A1@Victim.Example')).toBe('victim+a1@victim.example')
  })

  test('domain of an address', () => {
    expect(domainOf('a@B.Example')).toBe('b.example')
    expect(domainOf('"odd@local"@c.example')).toBe('c.example')
    expect(domainOf('nothing')).toBe('')
  })
})

describe('VERP return paths', () => {
  const config = { local: 'bounces', domain: 'bounce.socialnet.example', secret: 'a-long-enough-test-secret' }
  const messageId = '0f8c1b7e-4f6a-4c1e-9d7b-2a1e5c3d9b10'

  test('a return path names the message and verifies', () => {
    const address = verpReturnPath(config, messageId)!
    expect(address).toMatch(/^bounces\+0f8c1b7e-4f6a-4c1e-9d7b-2a1e5c3d9b10\.[0-9a-f]{20}@bounce\.socialnet\.example$/)
    expect(parseVerpAddress(config, address)).toEqual({ messageId })
  })

  test('a receiving system that folds the local part and domain to upper case still verifies', () => {
    const address = verpReturnPath(config, messageId)!
    const [local, domain] = address.split('@') as [string, string]
    const folded = `${local.replace('bounces', 'BOUNCES').replace(/\.([0-9a-f]+)$/, (_, tag: string) => `.${tag.toUpperCase()}`)}@${domain.toUpperCase()}`
    expect(parseVerpAddress(config, folded)).toEqual({ messageId })
  })

  test('a forged tag, another message id under a real tag, or another secret is refused', () => {
    const address = verpReturnPath(config, messageId)!
    const tag = address.split('.')[1]!.split('@')[0]!
    expect(parseVerpAddress(config, address.replace(tag, '0'.repeat(20)))).toEqual({ rejected: 'bad_tag' })
    expect(parseVerpAddress(config, `bounces+other-message.${tag}@${config.domain}`)).toEqual({ rejected: 'bad_tag' })
    expect(parseVerpAddress({ ...config, secret: 'another-secret-entirely' }, address)).toEqual({ rejected: 'bad_tag' })
  })

  test.each([
    ['someone@bounce.socialnet.example'],
    ['bounces+x.y@elsewhere.example'],
    ['bounces@bounce.socialnet.example'],
    ['not an address']
  ])('%s is not a bounce address', (address) => {
    expect(parseVerpAddress(config, address)).toEqual({ rejected: 'not_bounce_address' })
  })

  test.each([
    ['bounces+.0123456789abcdef0123@bounce.socialnet.example'],
    ['bounces+no-tag@bounce.socialnet.example'],
    ['bounces+id.short@bounce.socialnet.example'],
    ['bounces+a b.0123456789abcdef0123@bounce.socialnet.example']
  ])('%s has no valid tag', (address) => {
    expect(parseVerpAddress(config, address)).toEqual({ rejected: 'bad_tag' })
  })

  test('a message id that cannot live in a local part gets no return path', () => {
    expect(verpReturnPath(config, 'has@sign')).toBeUndefined()
    expect(verpReturnPath(config, 'x'.repeat(41))).toBeUndefined()
  })
})
