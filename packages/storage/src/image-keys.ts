/**
 * Where an image's objects live in storage. The api writes the original, the
 * worker writes thumbnails and the sweeper deletes them all, so the naming is
 * shared here rather than repeated. Ids are server-made UUIDs: keys never
 * carry anything a client chose.
 */
export const THUMBNAIL_SIZES = [128, 512] as const

/** Key of the re-encoded original. */
export function originalKey(imageId: string): string {
  return `images/${imageId}/original`
}

/** Key of one square WebP thumbnail. */
export function thumbnailKey(imageId: string, size: number): string {
  return `images/${imageId}/${size}.webp`
}

/** Every key an image may have (what a delete must remove). */
export function allImageKeys(imageId: string, sizes: readonly number[] = THUMBNAIL_SIZES): string[] {
  return [originalKey(imageId), ...sizes.map((size) => thumbnailKey(imageId, size))]
}
