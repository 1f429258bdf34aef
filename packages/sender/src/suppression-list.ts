import type { Pool, PoolClient } from 'pg'
import { addressKey } from './addresses'
import { storedText } from './stored-text'

/** Why an address is on the suppression list. */
export type SuppressionReason = 'hard_bounce' | 'soft_bounce_limit' | 'complaint' | 'manual'
export const SUPPRESSION_REASONS: readonly SuppressionReason[] = ['hard_bounce', 'soft_bounce_limit', 'complaint', 'manual']

/** What a report says about a recipient. */
export type BounceKind = 'hard' | 'soft' | 'complaint'

/** One suppressed address as operators see it. */
export interface Suppression {
  address: string
  reason: SuppressionReason
  source: string
  detail: string | null
  firstSeenAt: Date
  lastSeenAt: Date
  count: number
}

/** A bounce or complaint heard about one of our mails. */
export interface BounceReport {
  address: string
  kind: BounceKind
  /** `dsn`, `arf` or `smtp` (a 5xx at RCPT, seen by the mailer itself). */
  source: string
  messageId?: string
  /** The status code or reply text, kept for the operator. */
  detail?: string
}

/**
 * The bounce policy, in one place: one hard bounce or one complaint
 * suppresses at once; soft bounces suppress at the third within a week
 * (a full mailbox or a greylisting server deserves a few more tries).
 */
export const BOUNCE_POLICY = { softLimit: 3, softWindowDays: 7 } as const

interface SuppressionRow {
  address: string
  reason: SuppressionReason
  source: string
  detail: string | null
  first_seen_at: Date
  last_seen_at: Date
  count: number
}

function fromRow(r: SuppressionRow): Suppression {
  return { address: r.address, reason: r.reason, source: r.source, detail: r.detail, firstSeenAt: r.first_seen_at, lastSeenAt: r.last_seen_at, count: r.count }
}

const PAGE_MAX = 500

/**
 * The suppression list (table mail_suppressions) and the bounce history the
 * policy counts (mail_bounces). Addresses are keyed lower-cased, with any
 * `+tag` kept: a bounce speaks for that one mailbox name.
 */
export class SuppressionList {
  constructor(private readonly pool: Pool) {}

  /** The reason each of `addresses` is suppressed, for those that are (one query for a batch of sends). */
  async reasonsFor(addresses: readonly string[]): Promise<Map<string, SuppressionReason>> {
    const keys = [...new Set(addresses.map(addressKey))]
    const { rows } = await this.pool.query<{ address: string; reason: SuppressionReason }>(
      'SELECT address, reason FROM mail_suppressions WHERE address = ANY($1::text[])', [keys]
    )
    return new Map(rows.map((r) => [r.address, r.reason]))
  }

  /** One address's suppression, or undefined. */
  async get(address: string): Promise<Suppression | undefined> {
    const { rows } = await this.pool.query<SuppressionRow>('SELECT * FROM mail_suppressions WHERE address = $1', [addressKey(address)])
    return rows[0] && fromRow(rows[0])
  }

  /** A page of the list in address order; `cursor` is the last address of the previous page. */
  async list(options: { cursor?: string; limit?: number } = {}): Promise<{ suppressions: Suppression[]; nextCursor: string | null }> {
    const limit = Math.min(Math.max(options.limit ?? 100, 1), PAGE_MAX)
    const { rows } = await this.pool.query<SuppressionRow>(
      'SELECT * FROM mail_suppressions WHERE address > $1 ORDER BY address LIMIT $2', [options.cursor ?? '', limit + 1]
    )
    const page = rows.slice(0, limit).map(fromRow)
    return { suppressions: page, nextCursor: rows.length > limit ? page[page.length - 1]!.address : null }
  }

  /** Suppresses an address by hand (an operator); an address already listed keeps its first reason. */
  async add(address: string, source: string, detail?: string): Promise<Suppression> {
    const client = await this.pool.connect()
    try {
      return await this.suppress(client, addressKey(address), 'manual', source, detail == null ? undefined : storedText(detail))
    } finally {
      client.release()
    }
  }

  /** Lifts a suppression and forgets the address's bounce history; false when it was not listed. */
  async remove(address: string): Promise<boolean> {
    const key = addressKey(address)
    const client = await this.pool.connect()
    try {
      await client.query('BEGIN')
      const { rowCount } = await client.query('DELETE FROM mail_suppressions WHERE address = $1', [key])
      // Otherwise two old soft bounces would suppress it again at the next one.
      await client.query('DELETE FROM mail_bounces WHERE address = $1', [key])
      await client.query('COMMIT')
      return (rowCount ?? 0) > 0
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  /**
   * Records a bounce or complaint and applies the policy; answers the
   * reason the address is now suppressed for, or null when it is not (yet).
   * The count of soft bounces and the suppression are one transaction,
   * serialised per address, so concurrent reports cannot both miss the limit.
   */
  async recordBounce(report: BounceReport): Promise<SuppressionReason | null> {
    const key = addressKey(report.address)
    const detail = report.detail == null ? undefined : storedText(report.detail)
    const client = await this.pool.connect()
    try {
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`mail_bounces:${key}`])
      await client.query(
        'INSERT INTO mail_bounces (address, kind, source, message_id, detail) VALUES ($1, $2, $3, $4, $5)',
        [key, report.kind, report.source, report.messageId ?? null, detail ?? null]
      )
      let reason: SuppressionReason | null = null
      if (report.kind === 'hard') reason = 'hard_bounce'
      else if (report.kind === 'complaint') reason = 'complaint'
      else {
        const { rows } = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM mail_bounces
            WHERE address = $1 AND kind = 'soft' AND received_at > now() - make_interval(days => $2)`,
          [key, BOUNCE_POLICY.softWindowDays]
        )
        if (rows[0]!.n >= BOUNCE_POLICY.softLimit) reason = 'soft_bounce_limit'
      }
      if (reason) reason = (await this.suppress(client, key, reason, report.source, detail)).reason
      await client.query('COMMIT')
      return reason
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  /** Deletes bounce history older than `olderThanMs` (the suppressions themselves stay until lifted). */
  async pruneBounces(olderThanMs: number): Promise<number> {
    const { rowCount } = await this.pool.query(
      'DELETE FROM mail_bounces WHERE received_at < now() - make_interval(secs => $1::double precision / 1000)', [olderThanMs]
    )
    return rowCount ?? 0
  }

  private async suppress(client: PoolClient, key: string, reason: SuppressionReason, source: string, detail?: string): Promise<Suppression> {
    const { rows } = await client.query<SuppressionRow>(
      `INSERT INTO mail_suppressions (address, reason, source, detail) VALUES ($1, $2, $3, $4)
       ON CONFLICT (address) DO UPDATE
         SET last_seen_at = now(), count = mail_suppressions.count + 1, detail = COALESCE(EXCLUDED.detail, mail_suppressions.detail)
       RETURNING *`,
      [key, reason, source, detail ?? null]
    )
    return fromRow(rows[0]!)
  }
}
