import fp from 'fastify-plugin'
import type { FastifyBaseLogger } from 'fastify'
import type { Pool } from 'pg'
import { deleteExpiredUnverified, releaseImagesOfExpiredUnverified } from './repository'

export interface UnverifiedSweepOptions {
  /** Days an account may stay unverified (UNVERIFIED_ACCOUNT_DAYS); 0 = never removed. */
  days: number
  /** Between runs (UNVERIFIED_SWEEP_INTERVAL_MS). */
  intervalMs: number
}

/** Accounts deleted per statement: short transactions, short row locks. */
const BATCH_SIZE = 500
/** Batches per run: a backlog is worked off over several runs rather than in one long burst. */
const MAX_BATCHES = 20

/**
 * One sweep: removes accounts still unverified after `days`, in bounded
 * batches, and logs how many went. Every replica may run it at once.
 */
export async function sweepUnverifiedAccounts(db: Pool, log: FastifyBaseLogger, days: number): Promise<number> {
  const imagesReleased = await releaseImagesOfExpiredUnverified(db, days)
  let removed = 0
  for (let batch = 0; batch < MAX_BATCHES; batch++) {
    const deleted = await deleteExpiredUnverified(db, days, BATCH_SIZE)
    removed += deleted
    if (deleted < BATCH_SIZE) break
  }
  if (removed > 0 || imagesReleased > 0) {
    log.info({ removed, imagesReleased, days }, 'removed accounts never verified (nickname and address are free again)')
  }
  return removed
}

/**
 * Runs the sweep every `intervalMs` (the first run within a minute of start,
 * at a random moment so replicas started together do not run in step) and
 * stops in onClose, waiting for a run in progress. A failed run is logged and
 * tried again next time.
 */
export default fp(async function unverifiedSweep(fastify, opts: UnverifiedSweepOptions) {
  if (opts.days === 0) {
    fastify.log.info('UNVERIFIED_ACCOUNT_DAYS=0: unverified accounts are kept')
    return
  }
  let timer: NodeJS.Timeout | undefined
  let running: Promise<unknown> = Promise.resolve()
  let closed = false
  const schedule = (delayMs: number) => {
    timer = setTimeout(() => {
      running = sweepUnverifiedAccounts(fastify.db, fastify.log, opts.days)
        .catch((err: unknown) => fastify.log.warn({ err }, 'sweep of unverified accounts failed; retried next interval'))
        .finally(() => { if (!closed) schedule(opts.intervalMs) })
    }, delayMs)
    timer.unref()
  }
  schedule(Math.floor(Math.random() * Math.min(opts.intervalMs, 60_000)))
  fastify.addHook('onClose', async () => {
    closed = true
    clearTimeout(timer)
    await running
  })
}, { name: 'unverified-sweep', dependencies: ['db'] })
