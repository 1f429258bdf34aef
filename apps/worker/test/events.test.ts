import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import sharp from 'sharp'
import { USER_ID_HEADER, type EmittedEvent, eventsOfMessage } from '@socialnet/broker'
import { JOB_MESSAGE_TYPES } from '@socialnet/jobs'
import { LocalStorage, originalKey } from '@socialnet/storage'
import { waitForValue } from '@socialnet/testing'
import { Harness } from './harness'

describe('worker events', () => {
  let dir: string
  let h: Harness
  const events: EmittedEvent[] = []

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'socialnet-worker-events-'))
    h = await new Harness({ STORAGE_DIR: dir, IMAGE_SWEEP_INTERVAL_MS: '3600000' }).open()
    // The api's side: the harness's connection declared the events exchange and its queue.
    await h.channel.consume(h.names.events.queue, (msg) => {
      if (msg) events.push(...eventsOfMessage(msg) as EmittedEvent[])
    }, { noAck: true })
    await h.startWorker({ REPLICA_ID: 'worker-3' })
  })
  afterAll(async () => {
    await h.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('a job\'s statuses, each reported once by the status store, owned by the submitter', async () => {
    const owner = await h.createUser()
    const id = randomUUID()
    await h.store.create(id, 'log', { owner })
    await h.publishJob('log', id, { data: { n: 1 }, ownerId: owner })
    await waitForValue(() => events.find((e) => e.subject === `job:${id}` && e.data.status === 'DONE'), `job ${id} DONE`)
    const mine = events.filter((e) => e.subject === `job:${id}`)
    expect(mine.map((e) => e.data.status)).toEqual(['STARTED', 'IN_PROGRESS', 'DONE'])
    for (const e of mine) expect(e).toMatchObject({ type: 'job.status', service: 'worker', replica: 'worker-3', userId: owner, data: { jobId: id, jobType: 'log' } })
    expect(mine[2]!.data).toMatchObject({ attempts: 1, durationMs: expect.any(Number) })
  })

  test('heartbeats: every REPLICA_HEARTBEAT_MS, counting the jobs it finished; a clean stop says replica.stopped', async () => {
    const worker = await h.startWorker({ REPLICA_ID: 'worker-beat', REPLICA_HEARTBEAT_MS: 200 })
    const mine = (type: string) => events.filter((e) => e.replica === 'worker-beat' && e.type === type)
    await waitForValue(() => mine('replica.heartbeat')[2], 'three heartbeats of an idle worker')
    expect(mine('replica.heartbeat')[0]).toMatchObject({ service: 'worker', subject: 'replica', data: { intervalMs: 200, handled: 0 } })
    const owner = await h.createUser()
    const ids = Array.from({ length: 4 }, () => randomUUID())
    for (const id of ids) {
      await h.store.create(id, 'log', { owner })
      await h.publishJob('log', id, { data: { n: 1 }, ownerId: owner })
    }
    const done = () => ids.map((id) => events.find((e) => e.subject === `job:${id}` && e.data.status === 'DONE'))
    await waitForValue(() => done().every(Boolean) || undefined, 'four jobs DONE')
    // Two workers share the queue: the count is this one's jobs, whichever it took.
    const here = done().filter((e) => e!.replica === 'worker-beat').length
    await waitForValue(() => mine('replica.heartbeat').at(-1)!.data.handled === here || undefined, `a heartbeat counting ${here} jobs`)
    await worker.stop(1000)
    await waitForValue(() => mine('replica.stopped')[0], 'replica.stopped')
  })

  test('a failing job: FAILED with the error', async () => {
    const owner = await h.createUser()
    const id = randomUUID()
    await h.store.create(id, 'callback', { owner })
    // 127.0.0.1:9 refuses at once; CALLBACK_ALLOW_HOSTS lets the worker try it.
    await h.publisher.publish({ type: JOB_MESSAGE_TYPES.callback, messageId: id, payload: { jobId: id, callbackUrl: 'http://127.0.0.1:9/hook' } })
    const failed = await waitForValue(() => events.find((e) => e.subject === `job:${id}` && e.data.status === 'FAILED'), `job ${id} FAILED`)
    expect(failed).toMatchObject({ userId: owner, data: { error: expect.any(String) } })
  })

  test('thumbnails made: image.thumbnails_made for the owner named in the x-user-id header', async () => {
    const id = randomUUID()
    const owner = await h.createUser()
    const original = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#3a6' } }).jpeg().toBuffer()
    await new LocalStorage(dir).put(originalKey(id), Readable.from([original]), { contentType: 'image/jpeg' })
    await h.query(
      'INSERT INTO images (id, owner_id, content_type, width, height, bytes, etag, state) VALUES ($1, $2, \'image/jpeg\', 300, 200, $3, \'e\', \'stored\')',
      [id, owner, original.length])
    await h.publisher.publish({ type: 'image.thumbnails.v1', messageId: randomUUID(), payload: { imageId: id, sizes: [64] }, headers: { [USER_ID_HEADER]: owner } })
    const made = await waitForValue(() => events.find((e) => e.type === 'image.thumbnails_made' && e.subject === `image:${id}`), `thumbnails of image ${id}`)
    expect(made).toMatchObject({ service: 'worker', userId: owner, data: { imageId: id, sizes: [64], durationMs: expect.any(Number) } })
  })

  test('an email job hands its owner on to the mail (x-user-id), so the mailer\'s events reach the owner', async () => {
    const owner = await h.createUser()
    const id = randomUUID()
    await h.store.create(id, 'email', { owner })
    await h.publisher.publish({
      type: JOB_MESSAGE_TYPES.email,
      messageId: id,
      payload: { jobId: id, to: 'ada@example.com', subject: 'Hi', text: 'Hello' },
      headers: { [USER_ID_HEADER]: owner }
    })
    const mail = await h.nextMessage(h.names.queues.mail.name)
    expect(mail.properties.messageId).toBe(id)
    expect(mail.properties.headers?.[USER_ID_HEADER]).toBe(owner)
  })
})
