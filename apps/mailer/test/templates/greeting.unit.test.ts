import type { AnyConsumedMessage } from '@socialnet/broker'
import { renderMail } from '../../src/templates'
import { displayableNickname } from '../../src/templates/greeting'

function welcome(nickname: string): AnyConsumedMessage {
  return {
    messageId: 'm',
    type: 'mail.welcome.v1',
    payload: { to: 'victim@example.com', nickname, verificationUrl: 'https://social.example/verify?token=t' },
    attempt: 1,
    headers: {},
    redelivered: false,
    timestamp: undefined
  }
}

describe('the welcome greeting (the nickname is chosen by whoever signs up, the mail goes to whatever address they typed)', () => {
  it.each([
    'ada',
    'Ada Lovelace',
    'grace_hopper-42',
    'Zoë',
    'Łukasz',
    'Агата',
    '小明',
    'player 1984'
  ])('shows the harmless nickname %j', (nickname) => {
    expect(displayableNickname(nickname)).toBe(nickname)
    const mail = renderMail(welcome(nickname), 'https://social.example')
    expect(mail.text).toMatch(new RegExp(`^Hi ${nickname},`))
    expect(mail.html).toContain(`<p>Hi ${nickname},</p>`)
  })

  it.each([
    'WIN-iPhone.at.evil-site.com',
    'evil-site.com',
    'http://evil.example',
    'evil.example/login',
    'claim at evil-site',
    'prize dot evil dot com',
    'pay@evil.example',
    'call 0800123456',
    '+1 555 0100 99',
    '0800-123-456',
    'tel:0800',
    'bit.ly',
    'a'.repeat(31),
    '<script>alert(1)</script>',
    'Ada <Lovelace>',
    'x\u202Emoc',
    '   ',
    'line\nbreak'
  ])('greets without the hostile nickname %j', (nickname) => {
    expect(displayableNickname(nickname)).toBeUndefined()
    const mail = renderMail(welcome(nickname), 'https://social.example')
    expect(mail.text).toMatch(/^Hi,\n/)
    expect(mail.html).toContain('<p>Hi,</p>')
    for (const part of [mail.text, mail.html ?? '']) {
      expect(part).not.toContain('evil')
      expect(part).not.toContain('0800')
    }
  })
})
