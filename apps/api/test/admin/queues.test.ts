import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { connectAmqp } from '@socialnet/testing'
import { buildApp, useTestApp } from '../helper'
import { signUp } from '../accounts'
import { promoteToAdmin } from '../../src/users/repository'

describe('GET /v1/admin/queues', () => {
  const t = useTestApp({}, { waitForBroker: true })

  test('401 without a token, 403 for a user, and for an admin every work queue with live consumer and dead-letter counts', async () => {
    expect((await t.app.inject({ url: '/v1/admin/queues' })).statusCode).toBe(401)
    const user = await signUp(t.app)
    const refused = await t.app.inject({ url: '/v1/admin/queues', headers: user.auth })
    expect(refused.statusCode).toBe(403)
    expect(refused.json()).toEqual({ error: 'FORBIDDEN', message: expect.stringContaining('admin') })

    const admin = await signUp(t.app)
    // The role is read at each request: promoted after login, the same session is an admin's.
    await promoteToAdmin(t.app.db, admin.email)

    const prefix = t.env.config.AMQP_PREFIX
    const connection = await connectAmqp(t.env.config.AMQP_URL)
    try {
      const channel = await connection.createChannel()
      await channel.consume(`${prefix}socialnet.mail`, () => {}, { noAck: false })
      await channel.consume(`${prefix}socialnet.mail`, () => {}, { noAck: false })
      channel.sendToQueue(`${prefix}socialnet.jobs.dlq`, Buffer.from('{}'), { persistent: true })
      await channel.checkQueue(`${prefix}socialnet.jobs.dlq`)
      // Answers are shared for under a second; wait past that so this read is fresh.
      await sleep(1000)

      const res = await t.app.inject({ url: '/v1/admin/queues', headers: admin.auth })
      expect(res.statusCode).toBe(200)
      expect(res.headers['cache-control']).toBe('no-store')
      const { queues, unackedSource } = res.json() as { queues: Record<string, unknown>[]; unackedSource: string }
      expect(queues.map((q) => q.name)).toEqual(['mail', 'jobs', 'thumbnails'])
      // Says why unacked is null, so the console can name the setting.
      expect(unackedSource).toBe('not_configured')
      expect(queues[0]).toEqual({ name: 'mail', queue: `${prefix}socialnet.mail`, ready: expect.any(Number), unacked: null, consumers: 2, dlq: 0 })
      expect(queues[1]).toMatchObject({ name: 'jobs', consumers: 0, dlq: 1 })
    } finally {
      await connection.close()
    }
  })
})

describe('GET /v1/admin/queues with RABBITMQ_MANAGEMENT_URL', () => {
  const t = useTestApp({ RABBITMQ_MANAGEMENT_URL: process.env.TEST_RABBITMQ_MANAGEMENT_URL ?? 'http://127.0.0.1:15672' }, { waitForBroker: true })

  test('unacked counts come from the management API; a wrong address leaves them null and the rest intact', async () => {
    const admin = await signUp(t.app)
    await promoteToAdmin(t.app.db, admin.email)
    const queue = `${t.env.config.AMQP_PREFIX}socialnet.thumbnails`
    const connection = await connectAmqp(t.env.config.AMQP_URL)
    let broken: FastifyInstance | undefined
    try {
      const channel = await connection.createChannel()
      for (let i = 0; i < 3; i++) channel.sendToQueue(queue, Buffer.from('{}'), { persistent: true })
      await channel.prefetch(2)
      await channel.consume(queue, () => {}, { noAck: false })
      // The management API refreshes its counters every few seconds: ask until it has caught up.
      let thumbnails: Record<string, unknown> | undefined
      let source: string | undefined
      for (let i = 0; i < 40 && thumbnails?.unacked !== 2; i++) {
        await sleep(500)
        const res = await t.app.inject({ url: '/v1/admin/queues', headers: admin.auth })
        const body = res.json() as { queues: Record<string, unknown>[]; unackedSource: string }
        thumbnails = body.queues[2]
        source = body.unackedSource
      }
      expect(thumbnails).toEqual({ name: 'thumbnails', queue, ready: 1, unacked: 2, consumers: 1, dlq: 0 })
      expect(source).toBe('management_api')

      broken = await buildApp({ ...t.env.config, RABBITMQ_MANAGEMENT_URL: 'http://127.0.0.1:1' })
      await broken.broker.connection.waitForConnection()
      const res = await broken.inject({ url: '/v1/admin/queues', headers: admin.auth })
      const body = res.json() as { queues: Record<string, unknown>[]; unackedSource: string }
      expect(body.queues[2]).toEqual({ name: 'thumbnails', queue, ready: 1, unacked: null, consumers: 1, dlq: 0 })
      expect(body.unackedSource).toBe('unreachable')
    } finally {
      await broken?.close()
      await connection.close()
    }
  })
})
