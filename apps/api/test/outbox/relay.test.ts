import type { FastifyInstance } from 'fastify'
import { buildApp, useTestApp } from '../helper'
import { waitFor, waitForValue } from '@socialnet/testing'

const register = (app: FastifyInstance, n: string | number) => app.inject({
  method: 'POST', url: '/v1/users', payload: { email: `user${n}@example.com`, nickname: `user${n}`, password: 'tiger violet 42' }
})

describe('outbox relay', () => {
  // A ten-minute safety poll: anything published promptly here was woken by NOTIFY.
  const t = useTestApp({ OUTBOX_POLL_MS: '600000' }, { readMail: true, waitForBroker: true })

  test('a registration is published to the mail queue with the outbox row\'s messageId, then marked sent', async () => {
    const res = await register(t.app, 1)
    expect(res.statusCode).toBe(201)
    const [message] = await t.mail.waitForCount(1)
    const { rows: [row] } = await t.app.db.query('SELECT message_id, payload, published_at, attempts FROM outbox')
    expect(message).toEqual({
      messageId: row.message_id,
      type: 'mail.welcome.v1',
      contentType: 'application/json',
      persistent: true,
      payload: row.payload
    })
    expect(message!.payload.to).toBe('user1@example.com')
    const sent = await waitForValue(async () => {
      const { rows } = await t.app.db.query('SELECT published_at, attempts FROM outbox WHERE message_id = $1', [row.message_id])
      return rows[0].published_at ? rows[0] : undefined
    }, 'the row published')
    expect(sent.attempts).toBe(1)
  })

  test('GET /ready covers RabbitMQ', async () => {
    const res = await t.app.inject('/ready')
    expect(res.statusCode).toBe(200)
    expect(res.json().checks).toMatchObject({ rabbitmq: 'ok' })
  })

  test('two replicas relaying one outbox publish each message once', async () => {
    const replica = await buildApp(t.env.config)
    try {
      await replica.broker.connection.waitForConnection()
      const before = t.mail.messages.length
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => register(i % 2 ? t.app : replica, `r${i}`)))
      expect(results.every((r) => r.statusCode === 201)).toBe(true)
      await waitFor(async () => {
        const { rows } = await t.app.db.query('SELECT count(*) AS n FROM outbox WHERE published_at IS NULL')
        return Number(rows[0].n) === 0
      }, 'the outbox drained')
      const received = await t.mail.waitForCount(before + 30)
      const ids = received.map((m) => m.messageId)
      expect(new Set(ids).size).toBe(ids.length)
      // attempts counts publishes: 1 everywhere means no row went out twice.
      const { rows } = await t.app.db.query('SELECT DISTINCT attempts FROM outbox')
      expect(rows).toEqual([{ attempts: 1 }])
    } finally {
      await replica.close()
    }
  })

  test('a row the broker side refuses is kept with its error and retried later; the others still go out', async () => {
    await t.app.db.query(
      "INSERT INTO outbox (message_id, type, routing_key, payload) VALUES (gen_random_uuid(), 'mail.unknown.v9', 'mail.unknown.v9', '{}')")
    const before = t.mail.messages.length
    expect((await register(t.app, 'after-poison')).statusCode).toBe(201)
    const received = await t.mail.waitForCount(before + 1)
    expect(received[before]!.payload.to).toBe('userafter-poison@example.com')
    const poison = await waitForValue(async () => {
      const { rows } = await t.app.db.query("SELECT attempts, last_error, next_attempt_at > now() AS backing_off, published_at FROM outbox WHERE type = 'mail.unknown.v9'")
      return rows[0].attempts > 0 ? rows[0] : undefined
    }, 'the poison row tried')
    expect(poison).toEqual({ attempts: 1, last_error: expect.stringContaining('unknown message type'), backing_off: true, published_at: null })
  })

  test('a lost LISTEN connection is re-established and still wakes the relay', async () => {
    const { rowCount } = await t.app.db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'outbox-relay' AND datname = current_database()")
    expect(rowCount).toBe(1)
    await waitFor(async () => {
      const { rows } = await t.app.db.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'outbox-relay' AND datname = current_database() AND query ILIKE 'LISTEN%'")
      return rows.length === 1
    }, 'LISTEN again')
    const before = t.mail.messages.length
    expect((await register(t.app, 'after-listen-loss')).statusCode).toBe(201)
    const received = await t.mail.waitForCount(before + 1)
    expect(received[before]!.payload.to).toBe('userafter-listen-loss@example.com')
  })

  test('metrics count published messages and the backlog', async () => {
    const res = await t.app.inject('/metrics')
    expect(res.body).toMatch(/^outbox_published_total \d+$/m)
    expect(res.body).toMatch(/^outbox_unpublished 1$/m)
  })
})
