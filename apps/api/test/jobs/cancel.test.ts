import { randomBytes } from 'node:crypto'
import { useTestApp } from '../helper'
import { signUpVerified as signUp, type TestAccount } from '../accounts'

describe('DELETE /v1/jobs/{id} (cancel) and Idempotency-Key bodies', () => {
  const t = useTestApp({ JOB_RATE_PER_MINUTE: '0' }, { waitForBroker: true })
  let alice: TestAccount
  let bob: TestAccount

  beforeAll(async () => {
    alice = await signUp(t.app)
    bob = await signUp(t.app)
  })

  const post = (payload: unknown, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url: '/v1/jobs', payload: payload as object, headers: { ...alice.auth, ...headers } })
  const cancel = (id: string, as?: TestAccount) => t.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}`, headers: as?.auth ?? {} })

  test('a QUEUED job becomes CANCELLED (200 with the status); cancelling it again, or a finished job, is a 409', async () => {
    // No worker runs here: the job stays QUEUED.
    const { id } = (await post({ type: 'log', data: { n: 1 } })).json() as { id: string }
    const res = await cancel(id, alice)
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ id, type: 'log', status: 'CANCELLED', attempts: 0, createdAt: expect.any(String), updatedAt: expect.any(String) })
    expect((await t.app.inject({ url: `/v1/jobs/${id}`, headers: alice.auth })).json()).toMatchObject({ status: 'CANCELLED' })

    const again = await cancel(id, alice)
    expect(again.statusCode).toBe(409)
    expect(again.json()).toEqual({ error: 'JOB_FINISHED', message: 'the job has already finished (CANCELLED); only QUEUED, STARTED and IN_PROGRESS jobs can be cancelled' })

    const done = (await post({ type: 'log', data: { n: 2 } })).json() as { id: string }
    await t.app.jobs.store.done(done.id, 'log', { table: 'job_log' })
    expect((await cancel(done.id, alice)).json()).toMatchObject({ error: 'JOB_FINISHED', message: expect.stringContaining('(DONE)') })
    const failed = (await post({ type: 'log', data: { n: 3 } })).json() as { id: string }
    await t.app.jobs.store.failed(failed.id, 'log', 'boom')
    expect((await cancel(failed.id, alice)).statusCode).toBe(409)
    // A worker's later writes do not revive a cancelled job.
    await t.app.jobs.store.done(id, 'log', {})
    expect((await t.app.jobs.store.get(id))!.status).toBe('CANCELLED')
  })

  test('STARTED and IN_PROGRESS jobs can be cancelled too', async () => {
    for (const step of ['started', 'inProgress'] as const) {
      const { id } = (await post({ type: 'log', data: {} })).json() as { id: string }
      await t.app.jobs.store[step](id, 'log')
      expect((await cancel(id, alice)).json()).toMatchObject({ status: 'CANCELLED' })
    }
  })

  test('owner only: 404 for another user (same as an unknown id), 401 without a token, 400 for a malformed id', async () => {
    const { id } = (await post({ type: 'log', data: {} })).json() as { id: string }
    const other = await cancel(id, bob)
    expect(other.statusCode).toBe(404)
    expect(other.json().error).toBe('NO_SUCH_JOB')
    expect((await cancel('00000000-0000-4000-8000-000000000000', alice)).statusCode).toBe(404)
    expect((await cancel(id)).statusCode).toBe(401)
    expect((await cancel('not-a-uuid', alice)).statusCode).toBe(400)
    expect((await t.app.jobs.store.get(id))!.status).toBe('QUEUED')
  })

  test('Idempotency-Key: the same body with its fields in another order is the same request; a different body is a 422', async () => {
    const key = `k-${randomBytes(4).toString('hex')}`
    const first = await post({ type: 'callback', callbackUrl: 'https://hooks.example/a', data: { a: 1, b: { c: 2, d: 3 } } }, { 'idempotency-key': key })
    expect(first.statusCode).toBe(202)
    const reordered = await post({ data: { b: { d: 3, c: 2 }, a: 1 }, callbackUrl: 'https://hooks.example/a', type: 'callback' }, { 'idempotency-key': key })
    expect(reordered.statusCode).toBe(202)
    expect(reordered.json().id).toBe(first.json().id)
    for (const body of [
      { type: 'callback', callbackUrl: 'https://hooks.example/a', data: { a: 1, b: { c: 2, d: 4 } } },
      { type: 'callback', callbackUrl: 'https://hooks.example/b', data: { a: 1, b: { c: 2, d: 3 } } },
      { type: 'log', data: { a: 1 } }
    ]) {
      const res = await post(body, { 'idempotency-key': key })
      expect(res.statusCode).toBe(422)
      expect(res.json()).toEqual({ error: 'IDEMPOTENCY_KEY_REUSED', message: 'this Idempotency-Key was used for a different request' })
    }
  })

  test('GET /v1/jobs/{id} lists the callback delivery attempts the worker recorded (the newest 20)', async () => {
    const { id } = (await post({ type: 'callback', callbackUrl: 'https://hooks.example/x' })).json() as { id: string }
    for (let i = 0; i < 22; i++) {
      await t.app.jobs.store.recordDelivery(id, { at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), statusCode: 500 + (i % 4), durationMs: i, error: `callback answered ${500 + (i % 4)}` })
    }
    await t.app.jobs.store.recordDelivery(id, { at: '2026-01-01T00:01:00.000Z', durationMs: 3, error: 'connection failed' })
    const body = (await t.app.inject({ url: `/v1/jobs/${id}`, headers: alice.auth })).json() as { deliveries: Array<Record<string, unknown>> }
    expect(body.deliveries).toHaveLength(20)
    expect(body.deliveries[0]).toEqual({ at: '2026-01-01T00:00:03.000Z', statusCode: 503, durationMs: 3, error: 'callback answered 503' })
    expect(body.deliveries[19]).toEqual({ at: '2026-01-01T00:01:00.000Z', durationMs: 3, error: 'connection failed' })
  })
})
