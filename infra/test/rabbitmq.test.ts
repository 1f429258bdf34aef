import { connectAmqp } from '@socialnet/testing'
import { renderDefinitions } from '../rabbitmq/render-definitions'
import { importDefinitions, tryAs, type ImportedDefinitions } from './rabbitmq-definitions'

// The definitions file itself: hashes, vhost confinement, names outside the topology.
// What each service user may and may not do with the topology is in rabbitmq-permissions.test.ts.
let defs: ImportedDefinitions

beforeAll(async () => {
  defs = await importDefinitions()
})

afterAll(async () => { await defs.remove() })

describe('rabbitmq definitions (per-service users)', () => {
  test('the rendered file holds salted hashes, never a clear-text password', () => {
    const { passwords } = defs
    const text = JSON.stringify(renderDefinitions(passwords, { vhost: defs.vhost }))
    for (const password of Object.values(passwords)) expect(text).not.toContain(password)
    expect(() => renderDefinitions({ ...passwords, RABBITMQ_API_PASSWORD: '' })).toThrow(/RABBITMQ_API_PASSWORD/)
    expect(() => renderDefinitions({ ...passwords, RABBITMQ_API_PASSWORD: 'short' })).toThrow(/12 characters/)
  })

  test('every permission and topic permission names a user of the file, in its vhost', () => {
    const rendered = renderDefinitions(defs.passwords, { vhost: defs.vhost, userPrefix: 'p-' })
    const users = new Set(rendered.users.map((u: { name: string }) => u.name))
    for (const p of [...rendered.permissions, ...rendered.topic_permissions]) {
      expect(users.has(p.user)).toBe(true)
      expect(p.vhost).toBe(defs.vhost)
    }
    // One per service on each topic exchange it uses: the work exchange, and the events exchange
    // (the bounce receiver publishes events only).
    const topic = rendered.topic_permissions.map((p: { user: string; exchange: string }) => `${p.exchange} ${p.user}`).sort()
    expect(topic).toEqual([
      'socialnet p-api', 'socialnet p-mailer', 'socialnet p-worker',
      'socialnet.events p-api', 'socialnet.events p-bounces', 'socialnet.events p-mailer', 'socialnet.events p-worker'
    ])
  })

  test('service users are confined to their vhost', async () => {
    for (const user of ['api', 'mailer', 'worker', 'bounces'] as const) {
      await expect(connectAmqp(defs.url(user).replace(`/${defs.vhost}`, '/%2F'))).rejects.toThrow()
    }
  })

  test('no service may touch names outside the socialnet topology', async () => {
    for (const user of ['api', 'mailer', 'worker'] as const) {
      expect(await tryAs(defs.url(user), (ch) => ch.assertQueue('someone-elses-queue'))).toMatch(/ACCESS_REFUSED/)
    }
  })
})
