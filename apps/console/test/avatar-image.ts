import sharp from 'sharp'

/** A 400x400 PNG avatar: a face on a coloured ground, so the thumbnails show something recognisable. */
export async function avatarPng(): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400">
    <rect width="400" height="400" fill="#2e86ab"/>
    <circle cx="200" cy="200" r="150" fill="#f6c85f"/>
    <circle cx="145" cy="165" r="20" fill="#333"/><circle cx="255" cy="165" r="20" fill="#333"/>
    <path d="M120 250 Q200 320 280 250" stroke="#333" stroke-width="14" fill="none" stroke-linecap="round"/>
  </svg>`
  return await sharp(Buffer.from(svg)).png().toBuffer()
}
