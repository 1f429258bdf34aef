import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import amqp from 'amqplib'
import { declareTopology, topology } from '@socialnet/broker'
import { renderDefinitions } from '../rabbitmq/render-definitions'

// The definitions are imported into the local RabbitMQ under a throwaway vhost, and each
// service user is then tried for real: least privilege is what the broker enforces.
const vhost = `socialnet_test_defs_${randomBytes(4).toString('hex')}`
const passwords: Record<string, string> = {
  RABBITMQ_ADMIN_PASSWORD: `admin-${randomBytes(8).toString('hex')}`,
  RABBITMQ_API_PASSWORD: `api-${randomBytes(8).toString('hex')}`,
  RABBITMQ_MAILER_PASSWORD: `mailer-${randomBytes(8).toString('hex')}`,
  RABBITMQ_WORKER_PASSWORD: `worker-${randomBytes(8).toString('hex')}`
}
const USERS = ['admin', 'api', 'mailer', 'worker']
let dir: string

/** rabbitmqctl with a deadline: an unreachable node must fail the test, not hang it. */
function rabbitmqctl(...args: string[]): void {
  execFileSync('rabbitmqctl', args, { stdio: 'pipe', timeout: 60000 })
}

function url(user: string): string {
  return `amqp://${user}:${passwords[`RABBITMQ_${user.toUpperCase()}_PASSWORD`]}@127.0.0.1:5672/${vhost}`
}

/** Runs `fn` on a fresh channel as `user`; resolves to the broker's refusal text, or 'ok'. */
async function asUser(user: string, fn: (ch: amqp.Channel) => Promise<unknown>): Promise<string> {
  const connection = await amqp.connect(url(user))
  connection.on('error', () => {})
  try {
    const ch = await connection.createChannel()
    ch.on('error', () => {})
    await fn(ch)
    await ch.close()
    return 'ok'
  } catch (err) {
    return (err as Error).message
  } finally {
    await connection.close().catch(() => {})
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'socialnet-rabbit-'))
  // rabbitmqctl reads the file as the rabbitmq user.
  chmodSync(dir, 0o755)
  const file = join(dir, 'definitions.json')
  writeFileSync(file, JSON.stringify(renderDefinitions(passwords, vhost)), { mode: 0o644 })
  rabbitmqctl('import_definitions', file)
})

afterAll(() => {
  try {
    rabbitmqctl('delete_vhost', vhost)
  } finally {
    for (const user of USERS) rabbitmqctl('delete_user', user)
    rmSync(dir, { recursive: true, force: true })
  }
})

describe('rabbitmq definitions (per-service users, least privilege)', () => {
  test('the rendered file holds salted hashes, never a clear-text password', () => {
    const text = JSON.stringify(renderDefinitions(passwords, vhost))
    for (const password of Object.values(passwords)) expect(text).not.toContain(password)
    expect(() => renderDefinitions({ ...passwords, RABBITMQ_API_PASSWORD: '' })).toThrow(/RABBITMQ_API_PASSWORD/)
    expect(() => renderDefinitions({ ...passwords, RABBITMQ_API_PASSWORD: 'short' })).toThrow(/12 characters/)
  })

  test('every service can declare the topology it shares, under its own login', async () => {
    for (const user of ['api', 'mailer', 'worker']) {
      expect(await asUser(user, (ch) => declareTopology(ch))).toBe('ok')
    }
  })

  test('the api publishes to the topology exchange', async () => {
    const names = topology()
    expect(await asUser('api', async (ch) => ch.publish(names.exchange, 'mail.welcome.v1', Buffer.from('{}')))).toBe('ok')
  })

  test('consumers consume their queue and may republish retries through the default exchange', async () => {
    const names = topology()
    expect(await asUser('mailer', (ch) => ch.consume(names.queues.mail.name, () => {}))).toBe('ok')
    expect(await asUser('worker', async (ch) => {
      await ch.consume(names.queues.jobs.name, () => {})
      ch.publish('', names.queues.jobs.retries[0]!.name, Buffer.from('{}'))
      await ch.checkExchange(names.exchange)
    })).toBe('ok')
  })

  test('service users are confined to their vhost', async () => {
    for (const user of ['api', 'mailer', 'worker']) {
      await expect(amqp.connect(url(user).replace(`/${vhost}`, '/%2F'))).rejects.toThrow()
    }
  })

  test('no service may touch names outside the socialnet topology', async () => {
    for (const user of ['api', 'mailer', 'worker']) {
      expect(await asUser(user, (ch) => ch.assertQueue('someone-elses-queue'))).toMatch(/ACCESS_REFUSED/)
    }
  })
})
