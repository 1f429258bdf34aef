import { addressKey, type SuppressionList, type SuppressionReason } from '@socialnet/sender'
import { Batcher } from './batcher'

/**
 * The suppression list as the send path asks it: is this recipient
 * suppressed, and why. Every mail asks before it is sent, so the lookups of
 * the mails handled at once go to Postgres as one query (group commit, as
 * the delivery record does): the hot path pays one shared round trip.
 */
export class SuppressionCheck {
  private readonly lookups = new Batcher(async (addresses: string[]) => {
    const reasons = await this.list.reasonsFor(addresses)
    return addresses.map((address) => reasons.get(addressKey(address)))
  })

  constructor(
    readonly list: SuppressionList,
    /** false only for the benchmark's baseline, which measures what the check costs. */
    private readonly enabled = true
  ) {}

  /** Why `address` must not be mailed, or undefined when it may be. */
  reasonFor(address: string): Promise<SuppressionReason | undefined> {
    return this.enabled ? this.lookups.add(address) : Promise.resolve(undefined)
  }
}
