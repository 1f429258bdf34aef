import type { Pool, PoolClient } from 'pg'

/**
 * Runs `work` inside BEGIN/COMMIT on one pooled client; any throw rolls back.
 * A client whose ROLLBACK fails is broken (connection lost mid-transaction), so
 * it is destroyed instead of going back to the pool.
 */
export async function withTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    await client.query('BEGIN')
    const result = await work(client)
    await client.query('COMMIT')
    return result
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: Error) => { broken = rollbackErr })
    throw err
  } finally {
    client.release(broken)
  }
}
