import { Counter, Registry, collectDefaultMetrics } from 'prom-client'
import type { VerpRejection } from '@socialnet/sender'
import type { ReportOutcome } from './reports/verdict'

/** The receiver's Prometheus metrics; one registry per service so several can live in one process (tests). */
export class BouncesMetrics {
  readonly registry = new Registry()
  private readonly reports = new Counter({
    name: 'bounces_reports_total',
    help: 'Reports received, per mail they name, by outcome (malformed: once per report)',
    labelNames: ['outcome'] as const,
    registers: [this.registry]
  })

  private readonly refused = new Counter({
    name: 'bounces_recipients_refused_total',
    help: 'RCPT TO answered 550: not a bounce address, or a tag that does not verify (forged or mangled)',
    labelNames: ['reason'] as const,
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

  /** Counts one report's outcome for one mail. */
  countReport(outcome: ReportOutcome): void {
    this.reports.inc({ outcome })
  }

  /** Counts one refused recipient. */
  countRefused(reason: VerpRejection): void {
    this.refused.inc({ reason })
  }

  /** Counts events the event publisher dropped. */
  dropEvents(count: number): void {
    this.eventsDropped.inc(count)
  }

  /** The current value of bounces_reports_total for one outcome (tests, the ops log line). */
  async reportCount(outcome: ReportOutcome): Promise<number> {
    const metric = await this.reports.get()
    return metric.values.find((v) => v.labels.outcome === outcome)?.value ?? 0
  }
}
