/**
 * Every format an avatar upload may be, judged from its bytes: its name as
 * people know it, its media type (the console's file picker offers these),
 * the name libvips gives it, and what the original is stored as. The upload
 * check, the 415 message and `GET /v1/images/limits` all read this one list.
 */
export const UPLOAD_FORMATS = [
  { name: 'JPEG', mediaType: 'image/jpeg', decodedAs: 'jpeg', storedAs: 'jpeg' },
  { name: 'PNG', mediaType: 'image/png', decodedAs: 'png', storedAs: 'png' },
  { name: 'WebP', mediaType: 'image/webp', decodedAs: 'webp', storedAs: 'webp' },
  { name: 'GIF', mediaType: 'image/gif', decodedAs: 'gif', storedAs: 'png' },
  { name: 'TIFF', mediaType: 'image/tiff', decodedAs: 'tiff', storedAs: 'png' },
  { name: 'AVIF', mediaType: 'image/avif', decodedAs: 'avif', storedAs: 'webp' }
] as const

/** What an upload is stored as: the formats browsers show everywhere. */
export type StoredFormat = (typeof UPLOAD_FORMATS)[number]['storedAs']

/** The format names as a sentence says them: "JPEG, PNG, WebP, GIF, TIFF or AVIF". */
export const UPLOAD_FORMAT_NAMES = `${UPLOAD_FORMATS.slice(0, -1).map((f) => f.name).join(', ')} or ${UPLOAD_FORMATS.at(-1)!.name}`
