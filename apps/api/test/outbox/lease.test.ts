import pino from 'pino'
import { Client, type Pool } from 'pg'
import { openDatabase } from '@socialnet/db'
import { OutboxRelay, type ConfirmingPublisher, type PublishedRow } from '../../src/outbox/relay'
import { databaseUrl as testDatabaseUrl, dropDatabase, namespaceTag, pgBounds } from '@socialnet/testing'
import { waitFor, waitForValue } from '@socialnet/testing'

type Message = Parameters<ConfirmingPublisher['publish']>[0]

/** A publisher whose every publish stays open until the test settles it: a broker taking its time. */
class HeldPublisher implements ConfirmingPublisher {
  readonly held: Array<{ message: Message; resolve: () => void; reject: (err: Error) => void }> = []

  publish(message: Message): Promise<void> {
    return new Promise((resolve, reject) => { this.held.push({ message, resolve, reject }) })
  }

  confirmAll(): void {
    for (const h of this.held.splice(0)) h.resolve()
  }

  failAll(err: Error): void {
    for (const h of this.held.splice(0)) h.reject(err)
  }
}

/** Confirms at once, except messages of type 'mail.refused.v1': those it refuses with an error naming the message. */
class InstantPublisher implements ConfirmingPublisher {
  readonly published: string[] = []

  async publish(message: Message): Promise<void> {
    if (message.type === 'mail.refused.v1') throw new Error(`refused ${message.messageId}`)
    this.published.push(message.messageId)
  }
}

interface Batch {
  published: PublishedRow[]
  claimed: number
}

/** The pool, noting the text of every statement run through pool.query (all the relay's SQL goes there). */
function recordingStatements(pool: Pool, statements: string[]): Pool {
  return new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop !== 'query') return Reflect.get(target, prop, receiver)
      return (text: string, values?: unknown[]) => {
        statements.push(text)
        return target.query(text, values)
      }
    }
  })
}

describe('outbox relay: batches are leased, not locked', () => {
  const log = pino({ level: 'silent' })
  const databaseUrl = testDatabaseUrl(`socialnet_test_outbox_${namespaceTag()}`)
  let pool: Pool
  const relays: OutboxRelay[] = []
  const heldPublishers: HeldPublisher[] = []

  beforeAll(async () => {
    pool = await openDatabase(databaseUrl, log)
  })
  afterEach(async () => {
    // A relay stops only once its batch is settled; a failed test may have left one held.
    for (const publisher of heldPublishers.splice(0)) publisher.failAll(new Error('test over'))
    for (const relay of relays.splice(0)) await relay.stop()
    await pool.query('DELETE FROM outbox')
  })
  afterAll(async () => {
    await pool?.end()
    await dropDatabase(databaseUrl)
  })

  /**
   * A relay on the test database. Not started unless the test does: wake()
   * alone runs one batch, and `nextBatch()` resolves once the next batch is
   * marked, so a test knows exactly which claim it looks at.
   */
  function relay(publisher: ConfirmingPublisher, opts: { leaseMs?: number; pool?: Pool } = {}) {
    const waiting: Array<(batch: Batch) => void> = []
    const outboxRelay = new OutboxRelay({
      pool: opts.pool ?? pool,
      databaseUrl,
      publisher,
      isBrokerConnected: () => true,
      log,
      pollMs: 600_000,
      batchSize: 10,
      retentionMs: 3_600_000,
      ...(opts.leaseMs ? { leaseMs: opts.leaseMs } : {}),
      observer: {
        onPublished: (published, claimed) => { for (const resolve of waiting.splice(0)) resolve({ published, claimed }) },
        onFailed: () => {}
      }
    })
    relays.push(outboxRelay)
    if (publisher instanceof HeldPublisher) heldPublishers.push(publisher)
    return { relay: outboxRelay, nextBatch: () => new Promise<Batch>((resolve) => waiting.push(resolve)) }
  }

  /** Inserts `n` rows of `type` (these publishers check no contract). */
  async function insert(n: number, type = 'mail.welcome.v1'): Promise<Array<{ id: string; messageId: string }>> {
    const { rows } = await pool.query<{ id: string; messageId: string }>(
      `INSERT INTO outbox (message_id, type, routing_key, payload)
       SELECT gen_random_uuid(), $1, $1, '{}' FROM generate_series(1, $2) RETURNING id, message_id AS "messageId"`,
      [type, n]
    )
    return rows
  }

  async function rowsOf(ids: string[]) {
    const { rows } = await pool.query(
      `SELECT message_id AS "messageId", attempts, last_error AS "lastError", published_at IS NOT NULL AS published,
         leased_until IS NOT NULL AS leased, extract(epoch FROM next_attempt_at - now())::float AS "dueInS"
       FROM outbox WHERE id = ANY($1::bigint[]) ORDER BY id`,
      [ids]
    )
    return rows
  }

  test('while a batch waits for the broker no transaction is open and its rows are not locked; another relay leaves them alone, even after a broker reconnect', async () => {
    const rows = await insert(3)
    const ids = rows.map((r) => r.id)
    const broker = new HeldPublisher()
    const first = relay(broker)
    await first.relay.start()
    await waitFor(() => broker.held.length === 3, 'three publishes held')

    const { rows: [open] } = await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'")
    expect(open!.n).toBe(0)
    const other = new Client({ connectionString: databaseUrl, ...pgBounds() })
    await other.connect()
    try {
      await other.query('BEGIN')
      const locked = await other.query('SELECT id FROM outbox WHERE id = ANY($1::bigint[]) FOR UPDATE NOWAIT', [ids])
      expect(locked.rowCount).toBe(3)
      await other.query('ROLLBACK')
    } finally {
      await other.end()
    }
    expect((await rowsOf(ids)).every((r) => r.leased && r.dueInS > 50)).toBe(true)

    const elsewhere = new InstantPublisher()
    const second = relay(elsewhere)
    let batch = second.nextBatch()
    second.relay.wake()
    expect((await batch).claimed).toBe(0)
    // The reconnect makes failed rows due at once; it must not end a lease.
    batch = second.nextBatch()
    second.relay.brokerConnected()
    expect((await batch).claimed).toBe(0)
    expect(elsewhere.published).toEqual([])

    batch = first.nextBatch()
    broker.confirmAll()
    expect((await batch).published.map((r) => r.messageId)).toEqual(rows.map((r) => r.messageId))
    expect(await rowsOf(ids)).toEqual(rows.map((r) => expect.objectContaining({ messageId: r.messageId, published: true, attempts: 1, lastError: null, leased: false })))
  })

  test('rows a relay claimed and never marked (it died) are published by another relay once the lease ends; the first relay\'s late outcome changes nothing', async () => {
    const rows = await insert(2)
    const ids = rows.map((r) => r.id)
    const stuck = new HeldPublisher()
    const dead = relay(stuck, { leaseMs: 1000 })
    const claimedBy = Date.now()
    const deadBatch = dead.nextBatch()
    dead.relay.wake()
    await waitFor(() => stuck.held.length === 2, 'two publishes held')

    const elsewhere = new InstantPublisher()
    const live = relay(elsewhere, { leaseMs: 1000 })
    let batch = live.nextBatch()
    live.relay.wake()
    expect((await batch).claimed).toBe(0)
    const taken = await waitForValue(async () => {
      batch = live.nextBatch()
      live.relay.wake()
      const { claimed } = await batch
      return claimed > 0 ? claimed : undefined
    }, 'the expired lease taken over')
    expect(taken).toBe(2)
    expect(Date.now() - claimedBy).toBeGreaterThanOrEqual(900)
    expect(elsewhere.published).toEqual(rows.map((r) => r.messageId))
    // Everything but the clock-relative dueInS, to compare before and after the first relay's late outcome.
    const state = async () => (await rowsOf(ids)).map(({ dueInS, ...row }) => row)
    const afterLive = await state()
    expect(afterLive).toEqual(rows.map((r) => expect.objectContaining({ messageId: r.messageId, published: true, attempts: 1, lastError: null, leased: false })))

    // The first relay wakes up and its publishes time out: it lost the rows, so it marks nothing.
    stuck.failAll(new Error('publish timed out'))
    expect((await deadBatch).claimed).toBe(2)
    expect(await state()).toEqual(afterLive)
  })

  test('the failures of a batch are marked in one statement, each row with its own error and backoff; the published rows in one more', async () => {
    const good = await insert(2)
    const refused = await insert(3, 'mail.refused.v1')
    const statements: string[] = []
    const broker = new InstantPublisher()
    const { relay: outboxRelay, nextBatch } = relay(broker, { pool: recordingStatements(pool, statements) })
    let batch = nextBatch()
    outboxRelay.wake()
    expect((await batch).claimed).toBe(5)

    const marks = statements.filter((s) => /^\s*UPDATE outbox/.test(s))
    expect(marks.filter((s) => /last_error = left/.test(s))).toHaveLength(1)
    expect(marks.filter((s) => /published_at = now\(\)/.test(s))).toHaveLength(1)
    expect(await rowsOf(good.map((r) => r.id))).toEqual(good.map((r) => expect.objectContaining({ published: true, attempts: 1, lastError: null, leased: false })))
    const failed = await rowsOf(refused.map((r) => r.id))
    expect(failed).toEqual(refused.map((r) => expect.objectContaining({
      messageId: r.messageId, published: false, attempts: 1, lastError: `refused ${r.messageId}`, leased: false
    })))
    // Backing off 2^0 = 1 s from the failure, no longer until the end of the 60 s lease.
    for (const row of failed) expect(row.dueInS).toBeLessThan(5)

    // A broker reconnect makes them due at once (they are not leased any more).
    batch = nextBatch()
    outboxRelay.brokerConnected()
    expect((await batch).claimed).toBe(3)
    expect(await rowsOf(refused.map((r) => r.id))).toEqual(refused.map((r) => expect.objectContaining({ attempts: 2, lastError: `refused ${r.messageId}`, leased: false })))
  })
})
