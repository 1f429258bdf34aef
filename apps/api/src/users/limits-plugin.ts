import fp from 'fastify-plugin'
import { Counter } from 'prom-client'
import { CountBudget } from './count-budget'
import { WelcomeMailBudget, type WelcomeMailLimits } from './welcome-mail-budget'

declare module 'fastify' {
  interface FastifyInstance {
    /** What registration and verification mails may cost: sign-ups per client IP, mails per recipient, resends per account. */
    registrationLimits: RegistrationLimits
  }
}

export interface RegistrationLimits {
  /** Sign-ups per client IP an hour (REGISTER_RATE_PER_IP), keyed on clientNetwork(request.ip). */
  signups: CountBudget
  /** Counts a sign-up refused by `signups` (user_registrations_rate_limited_total). */
  signupRefused(): void
  welcomeMails: WelcomeMailBudget
  /** Verification mails each account may ask for an hour (VERIFICATION_RESENDS_PER_HOUR), keyed on the user id. */
  resends: CountBudget
}

export interface RegistrationLimitsOptions extends WelcomeMailLimits {
  signupsPerIpPerHour: number
  resendsPerHour: number
}

/**
 * The registration budgets, counted in Redis so they hold across replicas.
 * A limit set to 0 is off, and says so once in the log: open on purpose.
 */
export default fp(async function registrationLimits(fastify, opts: RegistrationLimitsOptions) {
  const refused = new Counter({
    name: 'user_registrations_rate_limited_total',
    help: 'sign-ups refused with 429 because their client IP used up REGISTER_RATE_PER_IP',
    registers: [fastify.metrics.registry]
  })
  const limits: RegistrationLimits = {
    signups: new CountBudget(fastify.redis, { keyPrefix: `${opts.prefix}ip`, limit: opts.signupsPerIpPerHour, windowSeconds: 3600 }),
    signupRefused: () => refused.inc(),
    welcomeMails: new WelcomeMailBudget(fastify.redis, opts, fastify.metrics.registry, fastify.log),
    resends: new CountBudget(fastify.redis, { keyPrefix: `${opts.prefix}resend`, limit: opts.resendsPerHour, windowSeconds: 3600 })
  }
  const off = Object.entries({
    REGISTER_RATE_PER_IP: opts.signupsPerIpPerHour,
    WELCOME_MAILS_PER_MAILBOX_PER_DAY: opts.perMailboxPerDay,
    WELCOME_MAILS_PER_DOMAIN_PER_MINUTE: opts.perDomainPerMinute,
    WELCOME_MAILS_PER_MINUTE: opts.perMinute,
    VERIFICATION_RESENDS_PER_HOUR: opts.resendsPerHour
  }).filter(([, limit]) => limit === 0).map(([name]) => name)
  if (off.length > 0) fastify.log.warn({ off }, 'registration limits turned off (0): fine for load tests, not for a public deployment')
  fastify.decorate('registrationLimits', limits)
}, { name: 'registration-limits', dependencies: ['redis', 'metrics'] })
