import createError from '@fastify/error'

export const NotMultipartError = createError<[]>('NOT_MULTIPART', 'send the image as multipart/form-data with a file field named "image"', 415)
export const MalformedUploadError = createError<[string]>('MALFORMED_UPLOAD', 'the multipart body is malformed: %s', 400)
export const MissingImageError = createError<[]>('IMAGE_MISSING', 'no file field named "image" in the form', 400)
export const ImageTooLargeError = createError<[number]>('IMAGE_TOO_LARGE', 'the image is larger than %d bytes', 413)
export const NotAnImageError = createError<[string]>('UNSUPPORTED_IMAGE_TYPE', 'not a supported image (%s); send JPEG, PNG, WebP, GIF, TIFF or AVIF', 415)
export const TooManyPixelsError = createError<[number, number, number]>('IMAGE_TOO_MANY_PIXELS', 'the image is %dx%d pixels; at most %d pixels are accepted', 422)
export const CorruptImageError = createError<[]>('IMAGE_CORRUPT', 'the image data is damaged or truncated', 422)
export const ImageNotFoundError = createError<[]>('IMAGE_NOT_FOUND', 'no such image', 404)
export const ThumbnailNotReadyError = createError<[]>('THUMBNAIL_NOT_READY', 'the thumbnail is still being made; retry in a few seconds', 404)
