import { useTestApp } from '../helper'
import { signUpVerified as signUp, type TestAccount } from '../accounts'

interface Page {
  jobs: Array<{ id: string; type: string; status: string; createdAt: string }>
  nextCursor: string | null
}

describe('GET /v1/jobs (your jobs, newest first, cursor pages)', () => {
  const t = useTestApp({ JOB_RATE_PER_MINUTE: '0' }, { waitForBroker: true })
  let alice: TestAccount
  let bob: TestAccount

  beforeAll(async () => {
    alice = await signUp(t.app)
    bob = await signUp(t.app)
  })

  const submit = async (as: TestAccount, n: number): Promise<string> => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: { type: 'log', data: { n } }, headers: as.auth })
    expect(res.statusCode).toBe(202)
    return (res.json() as { id: string }).id
  }
  const list = (as: TestAccount | undefined, query = '') =>
    t.app.inject({ url: `/v1/jobs${query}`, headers: as?.auth ?? {} })

  test('pages through every job of the caller once, newest first, and no one else\'s', async () => {
    const mine: string[] = []
    // Several in the same millisecond are likely: their order must still be one order, page after page.
    for (let n = 0; n < 7; n++) mine.push(await submit(alice, n))
    await submit(bob, 99)

    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const res = await list(alice, `?limit=3${cursor ? `&cursor=${cursor}` : ''}`)
      expect(res.statusCode).toBe(200)
      expect(res.headers['cache-control']).toBe('no-store')
      const page = res.json() as Page
      expect(page.jobs.length).toBeLessThanOrEqual(3)
      seen.push(...page.jobs.map((job) => job.id))
      cursor = page.nextCursor
      pages++
    } while (cursor !== null && pages < 10)
    expect(pages).toBe(3)
    // Newest first: the reverse of submission order; ties in a millisecond keep the index's one order.
    expect(new Set(seen)).toEqual(new Set(mine))
    expect(seen).toHaveLength(mine.length)
    const created = (await list(alice, '?limit=100')).json() as Page
    expect(created.jobs.map((job) => job.id)).toEqual(seen)
    for (let i = 1; i < created.jobs.length; i++) {
      expect(Date.parse(created.jobs[i - 1]!.createdAt)).toBeGreaterThanOrEqual(Date.parse(created.jobs[i]!.createdAt))
    }
    expect(created.jobs[0]).toMatchObject({ type: 'log', status: 'QUEUED' })
    expect(created.jobs[0]).not.toHaveProperty('owner')

    const bobs = (await list(bob)).json() as Page
    expect(bobs.jobs).toHaveLength(1)
    expect(bobs.nextCursor).toBeNull()
  })

  test('a job that changes status is listed with its current status; a newer job does not shift the next page', async () => {
    const first = await submit(alice, 100)
    const page1 = (await list(alice, '?limit=1')).json() as Page
    expect(page1.jobs[0]!.id).toBe(first)
    await t.app.jobs.store.done(first, 'log', { ok: true })
    await submit(alice, 101)
    // The cursor is a position in the index, not an offset: the job submitted since does not repeat page 1's.
    const page2 = (await list(alice, `?limit=1&cursor=${page1.nextCursor}`)).json() as Page
    expect(page2.jobs[0]!.id).not.toBe(first)
    const top = (await list(alice, '?limit=2')).json() as Page
    expect(top.jobs[1]).toMatchObject({ id: first, status: 'DONE' })
  })

  test('a job the broker did not take is not listed; a cursor that left the index gives an empty last page', async () => {
    const id = await submit(alice, 200)
    await t.app.jobs.store.remove(id, alice.id)
    const page = (await list(alice, '?limit=100')).json() as Page
    expect(page.jobs.map((job) => job.id)).not.toContain(id)
    expect((await list(alice, `?cursor=${id}`)).json()).toEqual({ jobs: [], nextCursor: null })
  })

  test('401 without a session; 400 for a bad cursor or limit; an account with no job gets an empty list', async () => {
    expect((await list(undefined)).statusCode).toBe(401)
    for (const query of ['?cursor=nope', '?limit=0', '?limit=101', '?limit=x', '?other=1']) {
      const res = await list(alice, query)
      expect(res.statusCode).toBe(400)
      expect(res.json()).toMatchObject({ error: expect.any(String), message: expect.any(String) })
    }
    // The documented template with an empty cursor is the first page.
    const template = await list(alice, '?cursor=&limit=1')
    expect(template.statusCode).toBe(200)
    expect((template.json() as Page).jobs).toHaveLength(1)
    const carol = await signUp(t.app)
    expect((await list(carol)).json()).toEqual({ jobs: [], nextCursor: null })
  })
})
