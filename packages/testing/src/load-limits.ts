/**
 * The api's registration limits turned off, for tests, benchmarks and fault
 * runs that register many users from one address (127.0.0.1) at one domain
 * (example.com): the per-IP sign-up budget and the per-domain welcome-mail
 * ceiling would otherwise answer 429 or withhold their mails. Tests of those
 * limits set them again.
 */
export const REGISTRATION_LIMITS_OFF: Readonly<Record<string, string>> = {
  REGISTER_RATE_PER_IP: '0',
  WELCOME_MAILS_PER_MAILBOX_PER_DAY: '0',
  WELCOME_MAILS_PER_DOMAIN_PER_MINUTE: '0',
  WELCOME_MAILS_PER_MINUTE: '0'
}
