import { Harness } from '../harness'

describe('worker: log jobs past JOB_LOG_MAX_TOTAL_BYTES (real Postgres, Redis, RabbitMQ)', () => {
  let h: Harness

  beforeAll(async () => {
    h = await new Harness().open()
    // A small cap, read at every job: the second 600-byte row would pass it.
    await h.startWorker({ JOB_LOG_MAX_TOTAL_BYTES: 1024, JOB_LOG_TOTAL_REFRESH_MS: 0 })
  })
  afterAll(async () => { await h.close() })

  test('the row that would pass the cap is not written and its job is FAILED with JOB_LOG_FULL; earlier rows stay', async () => {
    const ownerId = await h.createUser()
    const first = await h.submit('log', { data: { text: 'a'.repeat(600) }, ownerId })
    expect(await h.waitForStatus(first, 'DONE', 'FAILED')).toMatchObject({ status: 'DONE' })

    const second = await h.submit('log', { data: { text: 'b'.repeat(600) }, ownerId })
    const failed = await h.waitForStatus(second, 'DONE', 'FAILED')
    expect(failed).toMatchObject({ status: 'FAILED', attempts: 1 })
    expect(failed.error).toContain('the job log is full')

    const rows = await h.query<{ job_id: string }>('SELECT job_id FROM job_log WHERE owner_id = $1', [ownerId])
    expect(rows.map((r) => r.job_id)).toEqual([first])
  })
})
