import { randomUUID } from 'node:crypto'
import { useTestApp } from '../helper'
import { sweepUnverifiedAccounts } from '../../src/users/unverified-sweep'

const PASSWORD = 'tiger violet 42'

describe('removal of accounts never verified (UNVERIFIED_ACCOUNT_DAYS)', () => {
  // A long interval: the test runs the sweep itself.
  const t = useTestApp({ UNVERIFIED_ACCOUNT_DAYS: '7', UNVERIFIED_SWEEP_INTERVAL_MS: '3600000' })

  const register = async (nickname: string) => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/users', payload: { email: `${nickname}@example.com`, nickname, password: PASSWORD } })
    expect(res.statusCode).toBe(201)
    return res.json().id as string
  }
  const age = (id: string, days: number) =>
    t.app.db.query('UPDATE users SET created_at = now() - make_interval(days => $2) WHERE id = $1', [id, days])
  const exists = async (id: string) =>
    (await t.app.db.query('SELECT 1 FROM users WHERE id = $1', [id])).rowCount === 1
  const sweep = () => sweepUnverifiedAccounts(t.app.db, t.app.log, 7)

  test('deletes old unverified accounts (with their tokens and job logs), keeps verified and young ones, frees the nickname', async () => {
    const stale = await register('stale')
    const verified = await register('verified_old')
    const young = await register('young')
    await age(stale, 8)
    await age(verified, 30)
    await age(young, 6)
    await t.app.db.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [verified])
    await t.app.db.query("INSERT INTO job_log (job_id, owner_id, client_time, data) VALUES ($1, $2, now(), '{}')", [randomUUID(), stale])

    expect(await sweep()).toBe(1)
    expect(await exists(stale)).toBe(false)
    expect(await exists(verified)).toBe(true)
    expect(await exists(young)).toBe(true)
    const { rows } = await t.app.db.query('SELECT count(*)::int AS n FROM email_verifications WHERE user_id = $1', [stale])
    expect(rows[0].n).toBe(0)
    // Idempotent: a second run (another replica's) finds nothing more.
    expect(await sweep()).toBe(0)
    // The nickname and the address are free again.
    await register('stale')
  })

  test('an expired account with an avatar waits until the worker has deleted the image, then goes with its image rows', async () => {
    const owner = await register('pictured')
    await age(owner, 10)
    const image = randomUUID()
    await t.app.db.query(
      `INSERT INTO images (id, owner_id, state, content_type, width, height, bytes, etag)
       VALUES ($1, $2, 'stored', 'image/png', 1, 1, 1, 'x')`, [image, owner])

    expect(await sweep()).toBe(0)
    const { rows: [handed] } = await t.app.db.query('SELECT replaced_at FROM images WHERE id = $1', [image])
    expect(handed.replaced_at).not.toBeNull()
    expect(await exists(owner)).toBe(true)

    // What the worker's image sweeper does once the objects are gone.
    await t.app.db.query('UPDATE images SET deleted_at = now() WHERE id = $1', [image])
    expect(await sweep()).toBe(1)
    expect(await exists(owner)).toBe(false)
    expect((await t.app.db.query('SELECT 1 FROM images WHERE id = $1', [image])).rowCount).toBe(0)
  })
})
