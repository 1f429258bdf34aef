import fp from 'fastify-plugin'
import { Counter, Histogram } from 'prom-client'
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
  const { registry } = fastify.metrics
  // Registered whatever KV_LOG is, so the series exist (at zero) for the Postgres log too.
  const kvSyncSeconds = new Histogram({
    name: 'kv_log_fsync_seconds',
    help: 'Latency of fsync on the key-value log (one per group commit)',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [registry]
  })
  const kvCompactions = new Counter({ name: 'kv_log_compactions_total', help: 'Completed key-value log compactions', registers: [registry] })
  const log = fastify.log.child({ component: 'kv' })
  const store: KvStore = config.KV_LOG === 'file'
    ? await FileKvStore.open({
      path: config.KV_LOG_PATH,
      fsync: config.KV_FSYNC,
      compactMinBytes: config.KV_COMPACT_MIN_BYTES,
      compactRatio: config.KV_COMPACT_RATIO,
      log,
      maxLiveBytes: config.KV_MAX_TOTAL_BYTES,
      observer: {
        onSync: (seconds) => kvSyncSeconds.observe(seconds),
        onCompaction: () => kvCompactions.inc()
      }
    })
    : await PostgresKvStore.open({ pool: fastify.db, fsync: config.KV_FSYNC, log, compactEveryMs: 60_000, maxLiveBytes: config.KV_MAX_TOTAL_BYTES })
  fastify.decorate('kv', store)
  fastify.addHook('onClose', async () => { await store.close() })
}, { name: 'kv-store', dependencies: ['db', 'metrics'] })
