import { tagCreatedAt } from './namespace-tag'
import { withPgAdmin } from './postgres'
import { amqpVhost, management } from './rabbitmq'
import { connectRedis } from './redis'

/** A namespace is left behind once it is older than any test run: a day (a full CI run takes under 90 min). */
export const STALE_AFTER_MS = 24 * 60 * 60 * 1000

export interface SweepOptions {
  /** Namespace scopes to look at (isolatedEnv's `scope`); only `test` by default: bench and fault runs clean up their own. */
  scopes?: string[]
  /** List what would go, remove nothing. */
  dryRun?: boolean
}

export interface SweepResult {
  queues: string[]
  exchanges: string[]
  databases: string[]
  /** Redis keys unlinked (or that would be). */
  redisKeys: number
}

/**
 * Removes the test namespaces that earlier runs left behind (killed, timed
 * out, or failed cleanups): RabbitMQ queues and exchanges, Postgres databases
 * `socialnet_<scope>_*`, Redis keys under `<scope>:` (or `<scope>-`). Hundreds of leftover
 * quorum queues make a small broker slow to boot and slow to answer.
 *
 * Only names in a test namespace's shape are considered, and of those only the
 * ones older than STALE_AFTER_MS, because other runs on the machine use theirs
 * right now. A tag from namespaceTag carries its creation time. A tag made
 * before that (8 hex digits) goes only when the service itself says it has
 * been unused for a day: a queue with no consumer idle that long, a database
 * created that long ago with nobody connected, a key untouched that long.
 * Exchanges of such tags stay (nothing tells their age).
 */
export async function sweepStaleNamespaces({ scopes = ['test'], dryRun = false }: SweepOptions = {}): Promise<SweepResult> {
  const now = Date.now()
  const stale: Stale = (tag, unusedSince) => {
    const createdAt = tagCreatedAt(tag)
    if (createdAt === undefined) return false
    const since = createdAt === 'unknown' ? unusedSince : createdAt.getTime()
    return since !== undefined && now - since > STALE_AFTER_MS
  }
  const tagOf = namespaceTagOf(scopes)
  return {
    ...await sweepBroker(tagOf, stale, dryRun),
    databases: await sweepDatabases(tagOf, scopes, stale, dryRun),
    redisKeys: await sweepRedis(tagOf, scopes, stale, dryRun)
  }
}

/**
 * The tag in a queue, exchange, database or key name of a test namespace, if it is one:
 * the name starts with a scope (`socialnet_<scope>_` for a database) and one of the next
 * three segments is a tag. That covers isolatedEnv's `test.api.<tag>.`, `test:api:<tag>:`,
 * `socialnet_test_api_<tag>` and the hand-made `test-mailer-<tag>.` or `test.<tag>.`.
 */
function namespaceTagOf(scopes: string[]): TagOf {
  return (name, database = false) => {
    if (database && !name.startsWith('socialnet_')) return undefined
    const [scope, ...rest] = database ? name.slice('socialnet_'.length).split('_') : name.split(/[.:-]/)
    if (!scopes.includes(scope!)) return undefined
    // A database name ends with its tag; anything else has it near the start, before the names under the prefix.
    const candidates = database ? rest.slice(-1) : rest.slice(0, 3)
    return candidates.find((segment) => tagCreatedAt(segment) !== undefined)
  }
}

type Stale = (tag: string, unusedSince?: number) => boolean
type TagOf = (name: string, database?: boolean) => string | undefined

async function sweepBroker(tagOf: TagOf, stale: Stale, dryRun: boolean): Promise<Pick<SweepResult, 'queues' | 'exchanges'>> {
  const vhost = amqpVhost()
  // idle_since and consumers are reported for classic queues only; a quorum queue without them is judged by its tag alone.
  const queues = await management('GET', `/api/queues/${vhost}?columns=name,consumers,idle_since`) as Array<{ name: string, consumers?: number, idle_since?: string }>
  const exchanges = await management('GET', `/api/exchanges/${vhost}?columns=name`) as Array<{ name: string }>
  const goneQueues = queues.filter((queue) => {
    const tag = tagOf(queue.name)
    const idle = queue.consumers === 0 && queue.idle_since ? Date.parse(queue.idle_since) : undefined
    return tag !== undefined && stale(tag, Number.isNaN(idle) ? undefined : idle)
  }).map((queue) => queue.name)
  const goneExchanges = exchanges.filter((exchange) => {
    const tag = tagOf(exchange.name)
    return tag !== undefined && stale(tag)
  }).map((exchange) => exchange.name)
  if (!dryRun) {
    for (const [kind, names] of [['queues', goneQueues], ['exchanges', goneExchanges]] as const) {
      for (const each of names) {
        await management('DELETE', `/api/${kind}/${vhost}/${encodeURIComponent(each)}`).catch((err: Error) => {
          if (!/404/.test(err.message)) throw err // gone already: another run's sweep got there first
        })
      }
    }
  }
  return { queues: goneQueues, exchanges: goneExchanges }
}

async function sweepDatabases(tagOf: TagOf, scopes: string[], stale: Stale, dryRun: boolean): Promise<string[]> {
  return withPgAdmin(async (admin) => {
    // PG_VERSION is written when a database is created and never again: its mtime is the creation time.
    // (A database in another tablespace has no such file there: its age stays unknown and it stays.)
    const { rows } = await admin.query<{ datname: string, created: Date | null, backends: number }>(`
      SELECT d.datname,
             (pg_stat_file('base/' || d.oid || '/PG_VERSION', true)).modification AS created,
             (SELECT count(*)::int FROM pg_stat_activity a WHERE a.datid = d.oid) AS backends
      FROM pg_database d
      WHERE d.datname LIKE ANY ($1)`, [scopes.map((scope) => `socialnet\\_${scope}\\_%`)])
    const gone = rows.filter((row) => {
      const tag = tagOf(row.datname, true)
      return tag !== undefined && stale(tag, row.backends === 0 && row.created ? row.created.getTime() : undefined)
    }).map((row) => row.datname)
    if (!dryRun) {
      for (const each of gone) await admin.query(`DROP DATABASE IF EXISTS "${each.replaceAll('"', '""')}" WITH (FORCE)`)
    }
    return gone
  })
}

async function sweepRedis(tagOf: TagOf, scopes: string[], stale: Stale, dryRun: boolean): Promise<number> {
  const redis = await connectRedis()
  let count = 0
  try {
    for (const scope of scopes) {
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${scope}*`, 'COUNT', 1000)
        cursor = next
        const gone: string[] = []
        for (const key of keys) {
          const tag = tagOf(key)
          if (tag === undefined) continue
          // OBJECT IDLETIME only for an old tag: one round trip per key, and only where the tag tells no age.
          const idleSeconds = tagCreatedAt(tag) === 'unknown' ? await redis.object('IDLETIME', key).catch(() => null) as number | null : null
          if (stale(tag, idleSeconds === null ? undefined : Date.now() - idleSeconds * 1000)) gone.push(key)
        }
        if (gone.length > 0 && !dryRun) await redis.unlink(...gone)
        count += gone.length
      } while (cursor !== '0')
    }
  } finally {
    redis.disconnect()
  }
  return count
}
