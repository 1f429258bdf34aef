import { PermanentError, type AnyConsumedMessage } from '@socialnet/broker'
import { renderMail } from '../../src/templates'
import { escapeHtml } from '../../src/templates/html'

function welcome(verificationUrl: string, nickname = 'ada'): AnyConsumedMessage {
  return {
    messageId: 'm',
    type: 'mail.welcome.v1',
    payload: { to: 'ada@example.com', nickname, verificationUrl },
    attempt: 1,
    headers: {},
    redelivered: false,
    timestamp: undefined
  }
}

describe('templates', () => {
  it('escapes every HTML-significant character', () => {
    expect(escapeHtml('<a href="x" onclick=\'y\'>&</a>')).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;')
  })

  it('renders the welcome mail as text and HTML around the verification link', () => {
    const link = 'https://social.example/app/verify?token=a-b_c&x=1'
    const mail = renderMail(welcome(link, 'Ada'), 'https://social.example/app')
    expect(mail.to).toBe('ada@example.com')
    expect(mail.text).toContain(link)
    expect(mail.text).toMatch(/^Hi Ada,/)
    expect(mail.html).toContain('href="https://social.example/app/verify?token=a-b_c&amp;x=1"')
    expect(mail.html).toContain('<p>Hi Ada,</p>')
  })

  it('refuses a welcome link outside PUBLIC_URL for good', () => {
    expect(() => renderMail(welcome('https://social.example.evil/verify?token=x'), 'https://social.example')).toThrow(PermanentError)
    expect(() => renderMail(welcome('https://social.example/application/verify?token=x'), 'https://social.example/app')).toThrow(PermanentError)
    expect(() => renderMail(welcome('http://social.example/verify?token=x'), 'https://social.example')).toThrow(PermanentError)
  })
})
