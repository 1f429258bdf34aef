import { withoutAddresses } from '../src/mailer'

describe('failure reasons in events (they reach the mail\'s owner)', () => {
  test.each([
    ['ESOCKET: connect ECONNREFUSED 10.0.3.7:587', 'ESOCKET: connect ECONNREFUSED <address>'],
    ['ETIMEDOUT: connect ETIMEDOUT smtp.internal.example:25', 'ETIMEDOUT: connect ETIMEDOUT <address>'],
    ['ECONNREFUSED: connect ECONNREFUSED ::1:1025', 'ECONNREFUSED: connect ECONNREFUSED <address>'],
    ['ESOCKET: connect EHOSTUNREACH fe80::1%eth0', 'ESOCKET: connect EHOSTUNREACH <address>%eth0'],
    // What the receiving server said is kept: it is about the owner's own address.
    ['SMTP refused the mail: EENVELOPE: 550 mailbox unavailable', 'SMTP refused the mail: EENVELOPE: 550 mailbox unavailable'],
    ['EENVELOPE: 550 5.1.1 <bob@example.com>: Recipient address rejected', 'EENVELOPE: 550 5.1.1 <bob@example.com>: Recipient address rejected'],
    ['EAUTH: 451 try again at 12:30:45', 'EAUTH: 451 try again at 12:30:45']
  ])('%s', (reason, shown) => {
    expect(withoutAddresses(reason)).toBe(shown)
  })
})
