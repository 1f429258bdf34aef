import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * Outcome of one delivery, as counted in mailer_messages_total: `suppressed`
 * (the recipient is on the suppression list, not sent) and `bounced` (refused
 * for good at RCPT, recorded as a hard bounce) are acked like `sent`.
 */
export type Outcome = 'sent' | 'duplicate' | 'suppressed' | 'bounced' | 'retry' | 'dead_lettered' | 'throttled'

/** Why a mail was held back for its domain: out of tokens (`pace`) or the domain answered 421. */
export type ThrottleReason = 'pace' | 'smtp_421'

/** The mailer's Prometheus metrics; one registry per Mailer so several can live in one process (tests, bench). */
export class MailerMetrics {
  readonly registry = new Registry()
  private readonly messages = new Counter({
    name: 'mailer_messages_total',
    help: 'Mail messages handled, by type and outcome',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry]
  })

  private readonly sendSeconds = new Histogram({
    name: 'mailer_smtp_send_seconds',
    help: 'Time from handing a mail to the SMTP pool until the server accepted or refused it',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry]
  })

  private readonly throttled = new Counter({
    name: 'mailer_throttled_total',
    help: 'Mails deferred for their receiving domain, by reason: pace (out of tokens) or smtp_421 (the domain said not now)',
    labelNames: ['reason'] as const,
    registers: [this.registry]
  })

  private readonly slowDowns = new Counter({
    name: 'mailer_domain_slowdowns_total',
    help: 'Times a receiving domain was slowed one level after a 4xx reply',
    registers: [this.registry]
  })

  private readonly level = new Gauge({
    name: 'mailer_domain_pace_level',
    help: 'Slow-down level of each receiving domain slowed right now (a mail costs 2^level tokens); domains at full pace are not listed',
    labelNames: ['domain'] as const,
    registers: [this.registry]
  })

  private readonly eventsDropped = new Counter({
    name: 'socialnet_events_dropped_total',
    help: 'Events this process could not publish (buffer full while the broker was away, or nacked)',
    registers: [this.registry]
  })

  constructor(defaults = false) {
    if (defaults) collectDefaultMetrics({ register: this.registry })
  }

  /** Counts one handled message. */
  count(type: string, outcome: Outcome): void {
    this.messages.inc({ type, outcome })
  }

  /** Counts one mail deferred for its domain. */
  throttle(reason: ThrottleReason): void {
    this.throttled.inc({ reason })
  }

  /** Counts one domain slowed down a level. */
  slowDown(): void {
    this.slowDowns.inc()
  }

  /** Sets a domain's slow-down level as this mailer last saw it; 0 removes the domain from the gauge. */
  paceLevel(domain: string, level: number): void {
    if (level > 0) this.level.set({ domain }, level)
    else this.level.remove({ domain })
  }

  /** Counts events the event publisher dropped. */
  dropEvents(count: number): void {
    this.eventsDropped.inc(count)
  }

  /** Starts an SMTP send timer; call the result when the server answered. */
  timeSend(): () => void {
    return this.sendSeconds.startTimer()
  }
}

/** Serves GET /metrics on `port` (127.0.0.1 is not assumed: scrapers run elsewhere); resolves once listening. */
export async function serveMetrics(metrics: MailerMetrics, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"NOT_FOUND","message":"only GET /metrics"}')
      return
    }
    metrics.registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
      () => res.writeHead(500).end()
    )
  })
  server.listen(port)
  await once(server, 'listening')
  return server
}
