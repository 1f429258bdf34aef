import { randomUUID } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import pino from 'pino'
import { startReceiver, type Receiver } from '../callback/receiver'
import { Harness } from '../harness'

/** Cancelling jobs (what DELETE /v1/jobs/{id} does to the status) as the worker sees it. */
describe('cancelled jobs (real worker, RabbitMQ, Redis, local HTTP receiver)', () => {
  let h: Harness
  let receiver: Receiver
  const logLines: Array<Record<string, unknown>> = []
  const logged = async (jobId: string, msg: string) => {
    while (!logLines.some((l) => l.jobId === jobId && l.msg === msg)) await new Promise((resolve) => setTimeout(resolve, 10))
  }

  beforeAll(async () => {
    receiver = await startReceiver()
    h = await new Harness({ JOB_CANCEL_POLL_MS: '100' }).open()
    await h.startWorker({}, pino({ level: 'info' }, { write: (line: string) => { logLines.push(JSON.parse(line) as Record<string, unknown>) } }))
  })
  afterEach(() => { receiver.respond = (_req, res) => { res.end('ok') } })
  afterAll(async () => {
    await h.close()
    await receiver.close()
  })

  test('cancelled while queued: the worker acks it without running it (no request, no retry, no dead letter)', async () => {
    const id = randomUUID()
    await h.store.create(id, 'callback')
    expect(await h.store.cancel(id, 'callback')).toMatchObject({ applied: true, doc: { status: 'CANCELLED' } })
    const seen = receiver.received.length
    await h.publishJob('callback', id, { callbackUrl: `${receiver.url}/never` })
    await logged(id, 'job cancelled; skipped')
    expect(receiver.received.length).toBe(seen)
    expect(await h.store.get(id)).toMatchObject({ status: 'CANCELLED', attempts: 0 })
    expect(await h.channel.checkQueue(h.names.queues.jobs.dlq)).toMatchObject({ messageCount: 0 })
  })

  test('cancelled while its slow callback is in flight: the request is aborted, the job stays CANCELLED', async () => {
    let held: ServerResponse | undefined
    let aborted = false
    receiver.respond = (_req, res) => {
      held = res
      res.on('close', () => { aborted = !res.writableEnded })
    }
    const seen = receiver.received.length
    const id = await h.submit('callback', { callbackUrl: `${receiver.url}/slow` })
    await receiver.next(seen)
    expect(await h.store.get(id)).toMatchObject({ status: 'IN_PROGRESS' })

    expect(await h.store.cancel(id, 'callback')).toMatchObject({ applied: true })
    await logged(id, 'job cancelled while running; its work was aborted')
    while (!held!.destroyed && !aborted) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(aborted).toBe(true)
    const doc = await h.store.get(id)
    expect(doc).toMatchObject({ status: 'CANCELLED', attempts: 1 })
    expect(doc!.deliveries).toEqual([{ at: expect.any(String), durationMs: expect.any(Number), error: 'callback aborted: the job was cancelled' }])
    expect(receiver.received.length - seen).toBe(1)
    expect(await h.channel.checkQueue(h.names.queues.jobs.dlq)).toMatchObject({ messageCount: 0 })
    expect(logLines.filter((l) => l.messageId === id && l.msg === 'message failed, retrying later')).toHaveLength(0)
  })
})
