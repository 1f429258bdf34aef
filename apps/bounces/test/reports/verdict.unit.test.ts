import { parseFieldGroups } from '../../src/reports/report-fields'
import { deliveryStatusVerdict, feedbackReportVerdict } from '../../src/reports/verdict'

const groups = (text: string) => parseFieldGroups(text.replace(/\n/g, '\r\n'))
const perMessage = 'Reporting-MTA: dns; mx.example.com\n\n'

describe('delivery-status fields (RFC 3464)', () => {
  test('groups split on blank lines; folded lines unfold; names are case-insensitive', () => {
    const [message, recipient] = groups(`${perMessage}final-recipient: rfc822; ada@example.com\nACTION: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 no\n  such user\n`)
    expect(message!.get('reporting-mta')).toBe('dns; mx.example.com')
    expect(recipient!.get('action')).toBe('failed')
    expect(recipient!.get('diagnostic-code')).toBe('smtp; 550 5.1.1 no such user')
  })

  test.each([
    ['failed + 5.x.x is hard', 'Action: failed\nStatus: 5.2.1', 'hard'],
    ['failed + 4.x.x is soft', 'Action: failed\nStatus: 4.2.2', 'soft'],
    ['delayed is soft', 'Action: delayed\nStatus: 4.4.7', 'soft'],
    ['delivered is ignored', 'Action: delivered\nStatus: 2.0.0', 'ignored'],
    ['relayed is ignored', 'Action: relayed\nStatus: 2.0.0', 'ignored'],
    ['expanded is ignored', 'Action: expanded\nStatus: 2.0.0', 'ignored'],
    ['a status with a comment still counts', 'Action: failed\nStatus: 5.7.1 (delivery not authorized)', 'hard'],
    ['no status is malformed', 'Action: failed', 'malformed'],
    ['a made-up status is malformed', 'Action: failed\nStatus: 9.9.9', 'malformed'],
    ['failed with a success status is malformed', 'Action: failed\nStatus: 2.0.0', 'malformed'],
    ['no action is malformed', 'Status: 5.1.1', 'malformed']
  ])('%s', (_, fields, outcome) => {
    expect(deliveryStatusVerdict(groups(`${perMessage}${fields}\n`)).outcome).toBe(outcome)
  })

  test('the worst recipient speaks for the report; the SMTP code comes from an smtp diagnostic', () => {
    const verdict = deliveryStatusVerdict(groups(`${perMessage}Action: delayed\nStatus: 4.4.1\n\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\n`))
    expect(verdict).toEqual({ outcome: 'hard', source: 'dsn', status: '5.1.1', diagnostic: '550 5.1.1 user unknown', smtpCode: 550 })
    const x400 = deliveryStatusVerdict(groups(`${perMessage}Action: failed\nStatus: 5.1.1\nDiagnostic-Code: X-Unix; 550 whatever\n`))
    expect(x400).toMatchObject({ outcome: 'hard', smtpCode: null })
  })

  test('a part with only per-message fields is malformed', () => {
    expect(deliveryStatusVerdict(groups(perMessage)).outcome).toBe('malformed')
  })
})

describe('feedback-report fields (RFC 5965)', () => {
  test('abuse (or any type but not-spam) is a complaint; no Feedback-Type is malformed', () => {
    expect(feedbackReportVerdict(groups('Feedback-Type: abuse\nVersion: 1\n'))).toMatchObject({ outcome: 'complaint', source: 'arf', status: 'abuse' })
    expect(feedbackReportVerdict(groups('Feedback-Type: fraud\n')).outcome).toBe('complaint')
    expect(feedbackReportVerdict(groups('Feedback-Type: not-spam\n')).outcome).toBe('ignored')
    expect(feedbackReportVerdict(groups('Version: 1\n')).outcome).toBe('malformed')
  })
})
