import type { FastifyInstance } from 'fastify'
import { buildApp, testEnv, type TestEnv } from '../helper'
import { waitFor } from '@socialnet/testing'
import { MailQueueReader, testPrefix } from '../mail-queue'
import { TcpProxy } from './tcp-proxy'

describe('RabbitMQ down during registrations', () => {
  let env: TestEnv
  let app: FastifyInstance
  let mail: MailQueueReader
  const proxy = new TcpProxy('127.0.0.1', 5672)

  beforeAll(async () => {
    const prefix = testPrefix()
    mail = await MailQueueReader.open(prefix)
    await proxy.restore()
    env = testEnv({ AMQP_PREFIX: prefix, AMQP_URL: proxy.url })
    app = await buildApp(env.config)
    await app.broker.connection.waitForConnection()
  })
  afterAll(async () => {
    await app.close()
    await proxy.cut()
    await mail.close()
    await env.cleanup()
  })

  test('every 201 yields its welcome mail once the broker is back; nothing crashes meanwhile', async () => {
    const disconnected = new Promise((resolve) => app.broker.connection.once('disconnected', resolve))
    await proxy.cut()
    await disconnected

    const emails = Array.from({ length: 20 }, (_, i) => `outage${i}@example.com`)
    for (const [i, email] of emails.entries()) {
      const res = await app.inject({ method: 'POST', url: '/v1/users', payload: { email, nickname: `outage${i}`, password: 'tiger violet 42' } })
      expect(res.statusCode).toBe(201)
    }
    const ready = await app.inject('/ready')
    expect(ready.statusCode).toBe(503)
    expect(ready.json().checks.rabbitmq).not.toBe('ok')
    const { rows: [backlog] } = await app.db.query('SELECT count(*) AS n FROM outbox WHERE published_at IS NULL')
    expect(Number(backlog.n)).toBe(20)

    await proxy.restore()
    const received = await mail.waitForCount(20)
    await waitFor(async () => {
      const { rows } = await app.db.query('SELECT count(*) AS n FROM outbox WHERE published_at IS NULL')
      return Number(rows[0].n) === 0
    }, 'the outbox drained')
    const { rows } = await app.db.query('SELECT message_id FROM outbox')
    expect(new Set(received.map((m) => m.messageId))).toEqual(new Set(rows.map((r) => r.message_id)))
    expect(new Set(received.map((m) => m.payload.to))).toEqual(new Set(emails))
    expect((await app.inject('/ready')).statusCode).toBe(200)
  })

  test('the broker dropping mid-stream loses nothing', async () => {
    const before = mail.messages.length
    const registrations = Array.from({ length: 40 }, (_, i) => app.inject({
      method: 'POST', url: '/v1/users', payload: { email: `flap${i}@example.com`, nickname: `flap${i}`, password: 'tiger violet 42' }
    }))
    // Cut while registrations and publishes are in flight, then come back.
    await new Promise((resolve) => setTimeout(resolve, 50))
    await proxy.cut()
    const results = await Promise.all(registrations)
    expect(results.every((r) => r.statusCode === 201)).toBe(true)
    await proxy.restore()
    await waitFor(async () => {
      const { rows } = await app.db.query('SELECT count(*) AS n FROM outbox WHERE published_at IS NULL')
      return Number(rows[0].n) === 0
    }, 'the outbox drained')
    const received = new Set(mail.messages.slice(before).map((m) => m.payload.to))
    // At least once: a publish confirmed just before the cut may arrive twice (same messageId), never zero times.
    await waitFor(() => {
      for (const m of mail.messages.slice(before)) received.add(m.payload.to)
      return received.size === 40
    }, '40 mails')
    expect([...received].every((to) => /^flap\d+@example\.com$/.test(String(to)))).toBe(true)
  })

  test('an api started while RabbitMQ is down serves registrations and publishes them once it connects', async () => {
    await proxy.cut()
    const late = await buildApp(env.config)
    try {
      expect(late.broker.connection.isConnected).toBe(false)
      expect((await late.inject('/ready')).statusCode).toBe(503)
      const emails = Array.from({ length: 5 }, (_, i) => `late${i}@example.com`)
      for (const [i, email] of emails.entries()) {
        const res = await late.inject({ method: 'POST', url: '/v1/users', payload: { email, nickname: `late${i}`, password: 'tiger violet 42' } })
        expect(res.statusCode).toBe(201)
      }
      await proxy.restore()
      // Either replica may publish them (they share the outbox); what matters is that all arrive.
      await waitFor(() => {
        const got = new Set(mail.messages.map((m) => m.payload.to))
        return emails.every((e) => got.has(e))
      }, 'every registration\'s mail')
      await late.broker.connection.waitForConnection()
      expect((await late.inject('/ready')).statusCode).toBe(200)
    } finally {
      await late.close()
    }
  })
})
