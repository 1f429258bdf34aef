import { Type, type Static } from '@sinclair/typebox'

/** An image id: the lower-case UUID the api made when it stored the upload. */
export const ImageId = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' })

/**
 * `image.thumbnails.v1`: the worker makes the thumbnails (WebP, square) of a
 * stored image and marks its row ready. Idempotent per image id: a redelivery
 * rewrites the same objects.
 */
export const ImageThumbnailsV1 = Type.Object(
  {
    imageId: ImageId,
    /** Edge lengths in pixels to make; the api sends the sizes it serves. */
    sizes: Type.Array(Type.Integer({ minimum: 16, maximum: 2048 }), { minItems: 1, maxItems: 8, uniqueItems: true })
  },
  { $id: 'image.thumbnails.v1', title: 'Make the thumbnails of a stored image', additionalProperties: false }
)
/** Payload of `image.thumbnails.v1`. */
export type ImageThumbnailsV1 = Static<typeof ImageThumbnailsV1>
