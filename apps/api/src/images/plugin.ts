import fp from 'fastify-plugin'
import sharp from 'sharp'
import { createStorage, type ObjectStorage, type StorageConfig } from '@socialnet/storage'

declare module 'fastify' {
  interface FastifyInstance {
    /** Object storage for images (STORAGE selects local folder or S3 bucket). */
    storage: ObjectStorage
  }
}

/**
 * Opens the storage driver once, adds it to /ready, and closes it in onClose.
 * Also sets sharp's process-wide knobs for a server: no operation cache (it
 * holds decoded images for reuse we never have, and would make RSS grow with
 * traffic) and one libvips thread per image, since concurrency comes from
 * handling several uploads at once (see EncodeSlots).
 */
export default fp(async function imageStorage(fastify, opts: { config: StorageConfig }) {
  sharp.cache(false)
  sharp.concurrency(1)
  const storage = createStorage(opts.config)
  fastify.decorate('storage', storage)
  fastify.readiness.add('storage', () => storage.check())
  fastify.addHook('onClose', async () => { await storage.close() })
}, { name: 'image-storage', dependencies: ['readiness'] })
