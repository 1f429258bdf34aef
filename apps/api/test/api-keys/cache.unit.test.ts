import { ApiKeyCache } from '../../src/api-keys/cache'
import { mintApiKey } from '../../src/api-keys/keys'
import type { ActiveApiKey } from '../../src/api-keys/repository'

/** A lookup that counts its calls and answers from a set of valid hashes the test can change. */
function fakeStore() {
  const valid = new Map<string, ActiveApiKey>()
  let calls = 0
  let failing = false
  return {
    valid,
    get calls() { return calls },
    get failing() { return failing },
    set failing(v: boolean) { failing = v },
    lookup: async (hash: Buffer) => {
      calls++
      if (failing) throw new Error('database down')
      return valid.get(hash.toString('hex'))
    }
  }
}

describe('ApiKeyCache', () => {
  let now = 0
  const clock = () => now
  beforeEach(() => { now = 1_000_000 })

  test('a key is looked up once per TTL; a revocation is seen once the TTL has passed', async () => {
    const store = fakeStore()
    const { key, hash } = mintApiKey()
    store.valid.set(hash.toString('hex'), { id: '1', scopes: ['kv:read'] })
    const cache = new ApiKeyCache(store.lookup, { ttlMs: 2000, maxEntries: 100, now: clock })
    for (let i = 0; i < 5; i++) expect(await cache.verify(key)).toEqual({ id: '1', scopes: ['kv:read'] })
    expect(store.calls).toBe(1)
    store.valid.clear() // revoked
    now += 1999
    expect(await cache.verify(key)).toBeDefined()
    now += 1
    expect(await cache.verify(key)).toBeUndefined()
    expect(store.calls).toBe(2)
  })

  test('peek answers only from a fresh, settled lookup (valid or unknown), never from a pending or failed one', async () => {
    const store = fakeStore()
    const { key, hash } = mintApiKey()
    const stranger = mintApiKey().key
    store.valid.set(hash.toString('hex'), { id: '3', scopes: ['kv:read'] })
    const cache = new ApiKeyCache(store.lookup, { ttlMs: 2000, maxEntries: 100, now: clock })
    expect(cache.peek(key)).toBeUndefined()
    const pending = cache.verify(key)
    expect(cache.peek(key)).toBeUndefined()
    await pending
    expect(cache.peek(key)).toEqual({ key: { id: '3', scopes: ['kv:read'] } })
    await cache.verify(stranger)
    expect(cache.peek(stranger)).toEqual({ key: undefined })
    now += 2000
    expect(cache.peek(key)).toBeUndefined()
    store.failing = true
    await expect(cache.verify(key)).rejects.toThrow('database down')
    expect(cache.peek(key)).toBeUndefined()
    expect(new ApiKeyCache(store.lookup, { ttlMs: 0, maxEntries: 100, now: clock }).peek(key)).toBeUndefined()
  })

  test('lookups of one key arriving together share one query', async () => {
    const store = fakeStore()
    const cache = new ApiKeyCache(store.lookup, { ttlMs: 2000, maxEntries: 100, now: clock })
    const { key } = mintApiKey()
    await Promise.all(Array.from({ length: 10 }, () => cache.verify(key)))
    expect(store.calls).toBe(1)
  })

  test('a failed lookup is not remembered', async () => {
    const store = fakeStore()
    const cache = new ApiKeyCache(store.lookup, { ttlMs: 2000, maxEntries: 100, now: clock })
    const { key, hash } = mintApiKey()
    store.valid.set(hash.toString('hex'), { id: '2', scopes: ['kv:write'] })
    store.failing = true
    await expect(cache.verify(key)).rejects.toThrow('database down')
    store.failing = false
    expect(await cache.verify(key)).toEqual({ id: '2', scopes: ['kv:write'] })
  })

  test('made-up keys cannot grow it past maxEntries', async () => {
    const store = fakeStore()
    const cache = new ApiKeyCache(store.lookup, { ttlMs: 2000, maxEntries: 10, now: clock })
    for (let i = 0; i < 50; i++) await cache.verify(mintApiKey().key)
    expect((cache as unknown as { entries: Map<string, unknown> }).entries.size).toBe(10)
  })
})
