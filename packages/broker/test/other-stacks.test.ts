import type { ChannelModel } from 'amqplib'
import { OtherStacks, otherStacksMessage, presenceQueues, type Launcher } from '../src'
import { randomPrefix, rawConnection } from './harness'

// The rule, on the real broker: consumers of one queue count as another copy only when they run on
// the same machine and were started by another launcher. Each joiner has a connection of its own,
// as each process does.
describe('OtherStacks: consumers of the same queue started by another launcher on this machine', () => {
  const prefix = randomPrefix()
  const queue = `${prefix}socialnet.mail`
  const models: ChannelModel[] = []
  const warned: string[] = []
  const log = { warn: (_obj: object, msg: string) => { warned.push(msg) } }

  /** A process started by `launcher` joining the queue's presence: the number of others it sees. */
  async function join(launcher: Launcher): Promise<number> {
    const model = await rawConnection()
    models.push(model)
    const presence = await new OtherStacks(prefix, log, launcher).join(() => model.createChannel(), queue)
    return presence!.others
  }

  afterAll(async () => {
    for (const model of models) await model.close()
  })

  test('replicas of one launcher, or on other machines, are not others; another launcher here is, until it goes', async () => {
    const npmStart = { host: 'laptop', pid: 4100 }
    expect(await join(npmStart)).toBe(0)
    expect(await join(npmStart)).toBe(0)
    // Containers and pods: a machine (hostname) each, whatever their parent's pid.
    expect(await join({ host: 'mailer-7f9c', pid: 1 })).toBe(0)
    expect(await join({ host: 'mailer-2b41', pid: 1 })).toBe(0)
    expect(warned).toEqual([])

    const secondNpmStart = { host: 'laptop', pid: 5200 }
    expect(await join(secondNpmStart)).toBe(2)
    expect(warned).toEqual([otherStacksMessage(queue, 2, prefix)])

    // Its process gone (its connection closed, as a crash would): the first launcher sees no one else.
    await models.pop()!.close()
    expect(await join(npmStart)).toBe(0)
    const raw = await models[0]!.createChannel()
    raw.on('error', () => {}) // the 404 below closes this channel, as expected
    await expect(raw.checkQueue(presenceQueues(queue, secondNpmStart).launcher)).rejects.toThrow(/NOT_FOUND/)
  })

  test('a broker that refuses the presence queues costs only the warning: join answers undefined and the connection stays usable', async () => {
    const model = await rawConnection()
    models.push(model)
    // A queue of that name declared with other arguments makes the declaration fail, as a missing permission would.
    const setup = await model.createChannel()
    const names = presenceQueues(`${prefix}socialnet.jobs`, { host: 'laptop', pid: 7 })
    await setup.assertQueue(names.launcher, { durable: false, autoDelete: false, exclusive: true })
    const other = await rawConnection()
    models.push(other)
    expect(await new OtherStacks(prefix, log, { host: 'laptop', pid: 7 }).join(() => other.createChannel(), `${prefix}socialnet.jobs`)).toBeUndefined()
    const channel = await other.createChannel()
    expect((await channel.checkQueue(`${prefix}socialnet.mail.present.laptop`)).consumerCount).toBeGreaterThan(0)
  })

  test('the line names the setting that separates two copies, for the default prefix and for a chosen one', () => {
    expect(otherStacksMessage('socialnet.mail', 1, '')).toBe(
      'another process on this machine, started apart from this one, also consume socialnet.mail (another npm start?): ' +
      'they take each other\'s messages; give each copy its own AMQP_PREFIX (and DATABASE_URL) (docs/messaging.md, "Two copies on one machine")'
    )
    expect(otherStacksMessage('dev.socialnet.jobs', 3, 'dev.')).toMatch(/^3 processes on this machine.*AMQP_PREFIX=dev\. is used twice: give each copy its own/)
  })
})
