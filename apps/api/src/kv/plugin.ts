import fp from 'fastify-plugin'
import type { ApiConfig } from '../config'
import { FileKvStore } from './file-store'
import { PostgresKvStore } from './postgres-store'
import type { KvStore } from './store'

declare module 'fastify' {
  interface FastifyInstance {
    /** The key-value store selected by KV_LOG. */
    kv: KvStore
  }
}

/** Opens the KV log chosen by KV_LOG (replaying a file log) and flushes + closes it in onClose. */
export default fp(async function kvStore(fastify, opts: { config: ApiConfig }) {
  const { config } = opts
  const { kvSyncSeconds, kvCompactions } = fastify.metrics
  const store: KvStore = config.KV_LOG === 'file'
    ? await FileKvStore.open({
      path: config.KV_LOG_PATH,
      fsync: config.KV_FSYNC,
      compactMinBytes: config.KV_COMPACT_MIN_BYTES,
      compactRatio: config.KV_COMPACT_RATIO,
      log: fastify.log.child({ component: 'kv' }),
      observer: {
        onSync: (seconds) => kvSyncSeconds.observe(seconds),
        onCompaction: () => kvCompactions.inc()
      }
    })
    : new PostgresKvStore({ pool: fastify.db, fsync: config.KV_FSYNC, log: fastify.log.child({ component: 'kv' }), compactEveryMs: 60_000 })
  fastify.decorate('kv', store)
  fastify.addHook('onClose', async () => { await store.close() })
}, { name: 'kv-store', dependencies: ['db', 'metrics'] })
