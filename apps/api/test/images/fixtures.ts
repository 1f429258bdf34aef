import { randomBytes } from 'node:crypto'
import sharp from 'sharp'
import { blankPng } from '@socialnet/testing'

export { blankPng, multipart } from '@socialnet/testing'

/** A photo-like JPEG (noise, so it does not compress to nothing). */
export async function jpeg(width = 640, height = 480): Promise<Buffer> {
  const raw = randomBytes(width * height * 3)
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 80 }).toBuffer()
}

/** A JPEG carrying EXIF with a GPS position and a camera name, plus bytes after the end-of-image marker. */
export async function jpegWithGps(): Promise<Buffer> {
  const image = await sharp(await jpeg(320, 240))
    .withExif({
      IFD0: { Make: 'SpyCam', Model: 'Tracker 3000' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2948/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 17/1 4020/100' }
    })
    .jpeg()
    .toBuffer()
  return Buffer.concat([image, Buffer.from('TRAILING-SECRET-PAYLOAD')])
}

/**
 * A decompression bomb: a valid 1-bit greyscale PNG of `size` x `size` pixels,
 * all black, a few tens of KB on disk but width x height pixels once decoded
 * (225 MP for 15000: ~675 MB as RGB). Built by hand so making it costs the
 * test no memory either.
 */
export function pngBomb(size = 15000): Buffer {
  return blankPng(size, size)
}
