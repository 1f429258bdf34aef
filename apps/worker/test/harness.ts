import { randomBytes, randomUUID } from 'node:crypto'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import Redis from 'ioredis'
import pino from 'pino'
import { Client } from 'pg'
import type { Channel, ChannelModel } from 'amqplib'
import { BrokerConnection, Publisher, deleteTopology, type Topology } from '@socialnet/broker'
import type { MessagePayload } from '@socialnet/contracts'
import { JOB_MESSAGE_TYPES, JobStatusStore, type JobStatus, type JobStatusDoc, type JobType } from '@socialnet/jobs'
import { connectAmqp, databaseUrl, dropDatabase, namespaceTag, redisBounds, pgBounds } from '@socialnet/testing'
import { loadWorkerConfig, type WorkerConfig } from '../src/config'
import { startWorker, type Worker } from '../src/worker'

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
export const CALLBACK_SECRET = 'whsec_d29ya2VyLXRlc3Qtc2VjcmV0LTAxMjM0NTY3ODk='
export const SERVER_JS = join(__dirname, '..', 'dist', 'server.js')

/**
 * One isolated world per test file: own database, Redis key prefix and AMQP
 * prefix, plus the api's side of the conversation (status store + publisher)
 * to submit jobs exactly as `POST /v1/jobs` does.
 */
export class Harness {
  readonly env: Record<string, string>
  readonly config: WorkerConfig
  readonly log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })
  readonly redis: Redis
  readonly store: JobStatusStore
  readonly connection: BrokerConnection
  readonly publisher: Publisher
  amqp!: ChannelModel
  channel!: Channel
  private readonly workers: Worker[] = []
  private readonly children: ChildProcess[] = []

  constructor(overrides: Record<string, string> = {}) {
    const tag = namespaceTag()
    this.env = {
      DATABASE_URL: databaseUrl(`socialnet_test_worker_${tag}`),
      AMQP_URL,
      AMQP_PREFIX: `test.${tag}.`,
      AMQP_RETRY_DELAYS_MS: '50,100,200',
      JOBS_REDIS_PREFIX: `test:jobs:${tag}:`,
      JOBS_MAX_ATTEMPTS: '3',
      CALLBACK_SECRET,
      CALLBACK_ALLOW_HOSTS: '127.0.0.1',
      CALLBACK_TIMEOUT_MS: '5000',
      SHUTDOWN_GRACE_MS: '2000',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      ...overrides
    }
    this.config = loadWorkerConfig(this.env)
    this.redis = new Redis(this.config.REDIS_URL, redisBounds())
    this.store = new JobStatusStore(this.redis, { prefix: this.config.JOBS_REDIS_PREFIX })
    // The worker's own retry delays, so the topology deleted in close() is every queue the worker declared.
    this.connection = new BrokerConnection({ url: AMQP_URL, prefix: this.config.AMQP_PREFIX, name: 'worker-test-api', retryDelaysMs: this.config.retryDelaysMs })
    this.publisher = new Publisher(this.connection)
  }

  get names(): Topology {
    return this.connection.topology
  }

  /** Connects the api side (declares the topology) before any worker starts. */
  async open(): Promise<this> {
    await this.connection.connect()
    this.amqp = await connectAmqp(AMQP_URL)
    this.channel = await this.amqp.createChannel()
    return this
  }

  /** A worker in this process, stopped by close(); `log` lets a test read what the worker logged. */
  async startWorker(overrides: Partial<WorkerConfig> = {}, log: pino.Logger = this.log, options: Parameters<typeof startWorker>[2] = {}): Promise<Worker> {
    const worker = await startWorker({ ...this.config, ...overrides }, log, options)
    this.workers.push(worker)
    return worker
  }

  /** The built worker (`node dist/server.js`) as a child process, resolved once it consumes. */
  async spawnWorker(): Promise<ChildProcess & { output: () => string }> {
    if (!existsSync(SERVER_JS)) throw new Error(`${SERVER_JS} is missing: run npm run build first`)
    const child = spawn(process.execPath, [SERVER_JS], { env: { ...process.env, ...this.env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] })
    this.children.push(child)
    let out = ''
    child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
    await new Promise<void>((resolve, reject) => {
      const onData = (): void => { if (out.includes('worker consuming')) resolve() }
      child.stdout!.on('data', onData)
      child.once('exit', (code) => reject(new Error(`worker exited with ${code}:\n${out}`)))
    })
    return Object.assign(child, { output: () => out })
  }

  /** A user row (the owner of log jobs); the database exists once a worker has started. */
  async createUser(): Promise<string> {
    const name = `u${randomBytes(4).toString('hex')}`
    const [row] = await this.query<{ id: string }>(
      "INSERT INTO users (email, nickname, password_hash) VALUES ($1, $2, 'x') RETURNING id", [`${name}@example.com`, name])
    return row!.id
  }

  /** Submits a job the way the api does: QUEUED status first, then a confirmed publish. */
  async submit<T extends JobType>(type: T, fields: Omit<MessagePayload<(typeof JOB_MESSAGE_TYPES)[T]>, 'jobId'>): Promise<string> {
    const id = randomUUID()
    await this.store.create(id, type)
    await this.publishJob(type, id, fields)
    return id
  }

  /** Publishes a job message (again, for redelivery tests) without touching its status. */
  async publishJob<T extends JobType>(type: T, id: string, fields: object): Promise<void> {
    await this.publisher.publish({ type: JOB_MESSAGE_TYPES[type], messageId: id, payload: { ...fields, jobId: id } as never })
  }

  /** Polls the job status until it is one of `statuses` (the jest timeout bounds the wait). */
  async waitForStatus(id: string, ...statuses: JobStatus[]): Promise<JobStatusDoc> {
    for (;;) {
      const doc = await this.store.get(id)
      if (doc && statuses.includes(doc.status)) return doc
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  /** Takes the next message from a queue (polling; the jest timeout bounds the wait). */
  async nextMessage(queue: string) {
    for (;;) {
      const msg = await this.channel.get(queue, { noAck: true })
      if (msg) return { properties: msg.properties, payload: msg.content.toString('utf8') }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: this.env.DATABASE_URL, ...pgBounds() })
    await client.connect()
    try {
      return (await client.query(sql, params)).rows as T[]
    } finally {
      await client.end()
    }
  }

  async close(): Promise<void> {
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await Promise.all(this.workers.map((w) => w.stop(1000)))
    await this.publisher.close()
    await this.connection.close()
    await deleteTopology(this.channel, this.names).catch(() => {})
    await this.amqp.close()
    const keys = await this.redis.keys(`${this.config.JOBS_REDIS_PREFIX}*`)
    if (keys.length > 0) await this.redis.del(...keys)
    await this.redis.quit()
    await dropDatabase(this.env.DATABASE_URL!)
  }
}
