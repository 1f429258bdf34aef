import type { Pool } from 'pg'
import { withTransaction } from '@socialnet/db'
import { enqueueMessage } from '../outbox/enqueue'

/** An images row as the routes use it. */
export interface ImageRow {
  id: string
  ownerId: string
  contentType: string
  bytes: number
  etag: string
  thumbnailsState: 'pending' | 'ready'
  thumbnails: Record<string, { bytes: number; etag: string }>
}

/**
 * Records an upload before its bytes are written: if the process dies
 * mid-write the sweeper finds this row and deletes whatever was written.
 */
export async function insertUploading(db: Pool, id: string, ownerId: string, contentType: string): Promise<void> {
  await db.query('INSERT INTO images (id, owner_id, content_type) VALUES ($1, $2, $3)', [id, ownerId, contentType])
}

/** Forgets an upload that failed before it was stored (its object was already deleted). */
export async function deleteUploading(db: Pool, id: string): Promise<void> {
  await db.query("DELETE FROM images WHERE id = $1 AND state = 'uploading'", [id])
}

/**
 * Makes a stored upload the owner's avatar, in one transaction: the owner's
 * row is locked so two concurrent uploads queue up, the previous avatar is
 * marked replaced (the sweeper removes its files later), and the thumbnail
 * request goes into the outbox, so it is published if and only if this commits.
 */
export async function promoteToAvatar(
  db: Pool,
  image: { id: string; ownerId: string; bytes: number; etag: string; width: number; height: number },
  thumbnailSizes: number[]
): Promise<void> {
  await withTransaction(db, async (client) => {
    await client.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [image.ownerId])
    await client.query(
      `UPDATE images SET replaced_at = now(), updated_at = now()
       WHERE owner_id = $1 AND state = 'stored' AND replaced_at IS NULL AND deleted_at IS NULL`,
      [image.ownerId]
    )
    await client.query(
      `UPDATE images SET state = 'stored', bytes = $2, etag = $3, width = $4, height = $5, updated_at = now()
       WHERE id = $1`,
      [image.id, image.bytes, image.etag, image.width, image.height]
    )
    await enqueueMessage(client, 'image.thumbnails.v1', { imageId: image.id, sizes: thumbnailSizes }, { userId: image.ownerId })
  })
}

const IMAGE_COLUMNS = `id, owner_id AS "ownerId", content_type AS "contentType", bytes::float8 AS bytes, etag,
  thumbnails_state AS "thumbnailsState", thumbnails`

/** The user's current avatar, if they have one. */
export async function findCurrentAvatar(db: Pool, ownerId: string): Promise<ImageRow | undefined> {
  const { rows } = await db.query<ImageRow>(
    `SELECT ${IMAGE_COLUMNS} FROM images
     WHERE owner_id = $1 AND state = 'stored' AND replaced_at IS NULL AND deleted_at IS NULL`,
    [ownerId]
  )
  return rows[0]
}

/** A stored, not yet deleted image; replaced ones are still served until the sweeper removes them. */
export async function findImage(db: Pool, id: string): Promise<ImageRow | undefined> {
  const { rows } = await db.query<ImageRow>(
    `SELECT ${IMAGE_COLUMNS} FROM images WHERE id = $1 AND state = 'stored' AND deleted_at IS NULL`,
    [id]
  )
  return rows[0]
}
