import { hostname } from 'node:os'
import type { Channel, Options } from 'amqplib'

/**
 * Who started a process: its machine and its parent process. The processes
 * of one `npm start`, one `npm run stack`, one supervisord or one test run
 * share a launcher; two `npm start`s on one machine do not; replicas in
 * containers or pods each have a machine (hostname) of their own.
 */
export interface Launcher {
  host: string
  pid: number
}

/** This process's launcher: the machine's hostname and the parent's pid. */
export function launcherOfThisProcess(): Launcher {
  return { host: hostname(), pid: process.ppid }
}

/** A presence queue left without consumers (its process killed while joining) goes after this long. */
const PRESENCE_EXPIRES_MS = 60_000

const PRESENCE_QUEUE: Options.AssertQueue = {
  durable: true,
  autoDelete: true,
  arguments: { 'x-queue-type': 'classic', 'x-expires': PRESENCE_EXPIRES_MS }
}

/** Host names go into queue names: only characters every tool shows plainly, and a bounded length. */
function nameSafe(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64)
}

/**
 * The two presence queues of a work queue for a launcher: one per machine,
 * one per launcher on that machine. They are inside the work queue's own
 * family of names (`<queue>.present.…`), which its service's broker user may
 * already declare and read.
 */
export function presenceQueues(queue: string, launcher: Launcher): { machine: string; launcher: string } {
  const machine = `${queue}.present.${nameSafe(launcher.host)}`
  return { machine, launcher: `${machine}.${launcher.pid}` }
}

/**
 * Tells a process started by mistake beside another copy of the system that
 * they share queues. Each consumer of a queue also consumes two presence
 * queues that nothing is ever sent to: one for its machine and one for its
 * launcher. RabbitMQ counts the consumers of a queue and drops a consumer
 * the moment its connection goes (a crash included; the queue goes with the
 * last), so the machine's count minus the launcher's is exactly the number
 * of live consumers of the queue on this machine that another launcher
 * started: another `npm start` against the same broker and AMQP_PREFIX. The
 * replicas of one deployment never count (same launcher, or another
 * machine), so the warning means what it says. No management API, no
 * registry to go stale.
 */
export class OtherStacks {
  /** Queues already warned about: once per process, not at every reconnect. */
  private readonly warned = new Set<string>()

  constructor(
    private readonly prefix: string,
    private readonly log: { warn(obj: object, msg: string): void },
    private readonly launcher: Launcher = launcherOfThisProcess()
  ) {}

  /**
   * Before a consumer of `queue` starts consuming: joins its presence queues
   * on a channel of their own, then counts the others. The launcher's queue
   * is joined first, so a consumer counted on the machine is already counted
   * in its launcher's queue too. Resolves with the presence to leave when
   * the consumer's channel goes, or undefined when the broker refused
   * (a broker user without rights on the names): a warning is a nicety and
   * never keeps a consumer from its work.
   */
  async join(openChannel: () => Promise<Channel>, queue: string): Promise<Presence | undefined> {
    let channel: Channel | undefined
    try {
      channel = await openChannel()
      // A refusal closes this channel only; without a listener it would be thrown.
      channel.on('error', () => {})
      const names = presenceQueues(queue, this.launcher)
      for (const name of [names.launcher, names.machine]) {
        await channel.assertQueue(name, PRESENCE_QUEUE)
        await channel.consume(name, () => {}, { noAck: true })
      }
      const onMachine = (await channel.checkQueue(names.machine)).consumerCount
      const sameLauncher = (await channel.checkQueue(names.launcher)).consumerCount
      const others = Math.max(0, onMachine - sameLauncher)
      if (others > 0 && !this.warned.has(queue)) {
        this.warned.add(queue)
        this.log.warn({ queue, others, setting: 'AMQP_PREFIX' }, otherStacksMessage(queue, others, this.prefix))
      }
      const joined = channel
      return { others, leave: () => void joined.close().catch(() => {}) }
    } catch {
      void channel?.close().catch(() => {})
      return undefined
    }
  }
}

/** A consumer's place in its queue's presence: how many others it saw, and how to leave. */
export interface Presence {
  others: number
  leave(): void
}

/** The one warning line: what is shared, what it does, and the setting that separates them. */
export function otherStacksMessage(queue: string, others: number, prefix: string): string {
  const who = others === 1 ? 'another process on this machine, started apart from this one,' : `${others} processes on this machine, started apart from this one,`
  const fix = prefix === ''
    ? 'give each copy its own AMQP_PREFIX (and DATABASE_URL)'
    : `AMQP_PREFIX=${prefix} is used twice: give each copy its own`
  return `${who} also consume ${queue} (another npm start?): they take each other's messages; ${fix} (docs/messaging.md, "Two copies on one machine")`
}
