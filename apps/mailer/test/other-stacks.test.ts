import { once } from 'node:events'
import { mailerTestbed, spawnMailer, waitFor, type MailerTestbed } from './harness'
import { startSmtpSink, type SmtpSink } from './smtp-sink'

/** The warning's lines in a process's output. */
const warnings = (output: string) => output.split('\n').filter((line) => line.includes('started apart from this one'))

// Two copies of the system on one machine against one broker and one AMQP_PREFIX (the default one
// when a newcomer runs npm start twice; this test's own prefix here): real mailer processes.
describe('a mailer beside another copy of the system', () => {
  let smtp: SmtpSink
  let bed: MailerTestbed

  beforeAll(async () => {
    smtp = await startSmtpSink()
    bed = await mailerTestbed(smtp.url)
  })

  afterAll(async () => {
    await bed.cleanup()
    await smtp.close()
  })

  test('replicas of one launcher are quiet; one started by another launcher says so in one line naming AMQP_PREFIX; once it left, quiet again', async () => {
    const env = { ...bed.env, LOG_LEVEL: 'info' }
    const stop = async (p: ReturnType<typeof spawnMailer>) => {
      p.child.kill('SIGTERM')
      const [code] = await once(p.child, 'exit')
      expect(code).toBe(0)
    }
    // Two replicas started by one launcher (this test, like npm run stack's two mailers).
    const first = spawnMailer(env)
    const second = spawnMailer(env)
    await waitFor(() => first.output().includes('"mailer started"') && second.output().includes('"mailer started"'), 'two mailers')
    expect([...warnings(first.output()), ...warnings(second.output())]).toEqual([])

    // Another copy (its own launcher, like a second npm start): it sees both, and says what to do.
    const other = spawnMailer(env, { ownLauncher: true })
    await waitFor(() => other.output().includes('"mailer started"'), 'the other copy\'s mailer')
    const queue = bed.names.queues.mail.name
    const [line, ...more] = warnings(other.output())
    expect(more).toEqual([])
    expect(JSON.parse(line!)).toMatchObject({
      level: 40,
      queue,
      others: 2,
      setting: 'AMQP_PREFIX',
      msg: `2 processes on this machine, started apart from this one, also consume ${queue} (another npm start?): they take each other's messages; ` +
        `AMQP_PREFIX=${bed.env.AMQP_PREFIX} is used twice: give each copy its own (docs/messaging.md, "Two copies on one machine")`
    })
    // The first two are not told again: the warning is the newcomer's, at start.
    expect([...warnings(first.output()), ...warnings(second.output())]).toEqual([])
    await stop(other)

    // Gone with its process: a third replica of the first launcher finds no one else.
    const third = spawnMailer(env)
    await waitFor(() => third.output().includes('"mailer started"'), 'a third mailer')
    expect(warnings(third.output())).toEqual([])
    await Promise.all([first, second, third].map(stop))
  }, 60000)
})
