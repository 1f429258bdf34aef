import type { Pool } from 'pg'
import type { Logger } from 'pino'
import { withTransaction } from '@socialnet/db'
import { allImageKeys, type ObjectStorage } from '@socialnet/storage'
import { startPeriodicSweep, type PeriodicSweep } from '../sweeps/periodic-sweep'

export interface SweepOptions {
  /** How long a replaced avatar stays served (pages rendered just before the change still show it). */
  replacedGraceSeconds: number
  /** An upload still 'uploading' after this long was abandoned (its api died mid-write). */
  abandonedAfterSeconds: number
  batchSize: number
}

/**
 * Deletes the objects of replaced and abandoned images, then marks their rows
 * deleted, one batch per call. Each batch is claimed with FOR UPDATE SKIP
 * LOCKED inside one transaction that stays open while the objects are
 * deleted: several workers never fight over a row, a failed delete rolls the
 * claim back for a later sweep, and a thumbnail written concurrently either
 * lands before the claim (and is deleted here) or sees the row deleted
 * afterwards (and removes itself; see makeThumbnails).
 * Returns how many images were removed.
 */
export async function sweepImages(db: Pool, storage: ObjectStorage, opts: SweepOptions): Promise<number> {
  return withTransaction(db, async (client) => {
    const { rows } = await client.query<{ id: string }>(
      `SELECT id FROM images
       WHERE deleted_at IS NULL AND (
         (replaced_at IS NOT NULL AND replaced_at < now() - make_interval(secs => $1))
         OR (state = 'uploading' AND created_at < now() - make_interval(secs => $2)))
       ORDER BY coalesce(replaced_at, created_at)
       LIMIT $3
       FOR UPDATE SKIP LOCKED`,
      [opts.replacedGraceSeconds, opts.abandonedAfterSeconds, opts.batchSize]
    )
    for (const { id } of rows) {
      await Promise.all(allImageKeys(id).map((key) => storage.delete(key)))
    }
    if (rows.length > 0) {
      await client.query('UPDATE images SET deleted_at = now(), updated_at = now() WHERE id = ANY($1)', [rows.map((r) => r.id)])
    }
    return rows.length
  })
}

/** A running image sweep: `stop()` cancels the timer and waits for a sweep in progress. */
export type ImageSweeper = PeriodicSweep

/** Runs sweepImages every `intervalMs` (first run after one interval); errors are logged and retried next time. */
export function startImageSweeper(db: Pool, storage: ObjectStorage, log: Logger, intervalMs: number, opts: SweepOptions): ImageSweeper {
  return startPeriodicSweep({
    sweepBatch: () => sweepImages(db, storage, opts),
    batchSize: opts.batchSize,
    intervalMs,
    log,
    done: { msg: 'swept replaced and abandoned images' },
    failed: 'image sweep failed; will retry'
  })
}
