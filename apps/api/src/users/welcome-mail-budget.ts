import type Redis from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import { Counter, type Registry } from 'prom-client'
import { domainOf, mailboxKey } from '@socialnet/sender'
import { CountBudget } from './count-budget'

/** Welcome/verification mails allowed; 0 turns a limit off. */
export interface WelcomeMailLimits {
  /** Redis key prefix of the counters. */
  prefix: string
  /** Per recipient mailbox (lower-cased, `+tag` removed) a day: WELCOME_MAILS_PER_MAILBOX_PER_DAY. */
  perMailboxPerDay: number
  /** Per recipient domain a minute: WELCOME_MAILS_PER_DOMAIN_PER_MINUTE. */
  perDomainPerMinute: number
  /** All recipients together a minute: WELCOME_MAILS_PER_MINUTE. */
  perMinute: number
}

/** Which limit withheld a mail. */
export type WithheldReason = 'mailbox_daily' | 'domain_minute' | 'total_minute'

/** The budget's answer for one mail: send it (and give the take back if it is not queued after all), or withhold it. */
export type MailDecision =
  | { send: true; giveBack(): Promise<void> }
  | { send: false; reason: WithheldReason; limit: number; retryAfterSeconds: number }

/** Ceilings that protect everyone's deliverability: when one bites, operators hear it once per window. */
const CEILINGS: ReadonlySet<WithheldReason> = new Set(['domain_minute', 'total_minute'])

/**
 * How many welcome and verification mails may go out, so that sign-ups
 * cannot be used to mail-bomb a mailbox (`victim+1@`, `victim+2@`, ... land
 * in one inbox) or to burn the sender's reputation with one domain. The
 * mailbox budget is taken first; a ceiling that bites after it gives the
 * mailbox's take back, so the owner can still ask for the mail later.
 */
export class WelcomeMailBudget {
  private readonly budgets: Array<[WithheldReason, CountBudget, (address: string) => string]>
  private readonly withheld: Counter<'reason'>
  /** Per ceiling, when its current window ends: the warn line is written once per window, not per mail. */
  private readonly quietUntil = new Map<WithheldReason, number>()

  constructor(redis: Redis, limits: WelcomeMailLimits, registry: Registry, private readonly log: FastifyBaseLogger) {
    const budget = (name: string, limit: number, windowSeconds: number) =>
      new CountBudget(redis, { keyPrefix: `${limits.prefix}mail:${name}`, limit, windowSeconds })
    this.budgets = [
      ['mailbox_daily', budget('mailbox', limits.perMailboxPerDay, 24 * 3600), mailboxKey],
      ['domain_minute', budget('domain', limits.perDomainPerMinute, 60), domainOf],
      ['total_minute', budget('total', limits.perMinute, 60), () => 'all']
    ]
    this.withheld = new Counter({
      name: 'user_welcome_mails_withheld_total',
      help: 'welcome/verification mails not queued because a limit bit (mailbox_daily, domain_minute, total_minute); the account stays, its owner may ask again later',
      labelNames: ['reason'],
      registers: [registry]
    })
    for (const [reason] of this.budgets) this.withheld.inc({ reason }, 0)
  }

  /** Takes one mail to `address` from every budget, or none of them when one is spent. */
  async take(address: string): Promise<MailDecision> {
    const taken: Array<[CountBudget, string]> = []
    const giveBack = async () => { for (const [budget, key] of taken) await budget.giveBack(key) }
    for (const [reason, budget, keyOf] of this.budgets) {
      const key = keyOf(address)
      const retryAfterSeconds = await budget.take(key)
      if (retryAfterSeconds > 0) {
        await giveBack()
        this.withheld.inc({ reason })
        if (CEILINGS.has(reason)) this.warnOncePerWindow(reason, budget.limit, retryAfterSeconds, domainOf(address))
        return { send: false, reason, limit: budget.limit, retryAfterSeconds }
      }
      taken.push([budget, key])
    }
    return { send: true, giveBack }
  }

  private warnOncePerWindow(reason: WithheldReason, limit: number, retryAfterSeconds: number, domain: string): void {
    const now = Date.now()
    if (now < (this.quietUntil.get(reason) ?? 0)) return
    this.quietUntil.set(reason, now + retryAfterSeconds * 1000)
    this.log.warn({ reason, limit, domain: reason === 'domain_minute' ? domain : undefined, forSeconds: retryAfterSeconds },
      'welcome mails withheld: a per-minute ceiling was reached (accounts are still created; see user_welcome_mails_withheld_total)')
  }
}
