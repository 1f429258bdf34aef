import { KeyTable } from '../../src/kv/key-table'

describe('KeyTable replay (two passes)', () => {
  test('only the last value of each key is loaded, from any file offset (past 4 GiB too), in file order', async () => {
    const table = KeyTable.forReplay(1 << 20)
    const records = Buffer.from('k1k2k3')
    const GiB = 2 ** 30
    // k1 put twice (the first value never loaded), k2 put then deleted, k3 put at offsets past 2 and 4 GiB.
    table.replayRecord(records, 0, 2, true, 100, 5)
    table.replayRecord(records, 2, 4, true, 200, 3)
    table.replayRecord(records, 0, 2, true, 5 * GiB + 7, 4)
    table.replayRecord(records, 2, 4, false, 0, 0)
    table.replayRecord(records, 4, 6, true, 3 * GiB, 2)
    expect(table.size).toBe(2)
    expect(table.liveDataBytes).toBe(2 + 4 + 2 + 2)

    const reads: Array<[number, number]> = []
    await table.loadValues(GiB, async (position, length) => {
      reads.push([position, length])
      return Buffer.from(position === 3 * GiB ? 'v3' : 'late')
    })
    expect(reads).toEqual([[3 * GiB, 2], [5 * GiB + 7, 4]])
    expect(table.get(Buffer.from('k1'))?.toString()).toBe('late')
    expect(table.get(Buffer.from('k2'))).toBeUndefined()
    expect(table.get(Buffer.from('k3'))?.toString()).toBe('v3')
    // The keys were copied: the buffer they were read from can be reused.
    records.fill(0)
    expect(table.get(Buffer.from('k1'))?.toString()).toBe('late')
    expect([...table.entries()].map(([k, v]) => `${k.toString()}=${v.toString()}`)).toEqual(['k1=late', 'k3=v3'])
  })

  test('set, delete and copyIn after a replay keep the live counts', async () => {
    const table = KeyTable.forReplay(1 << 20)
    for (let i = 0; i < 5000; i++) table.replayRecord(Buffer.from(`key-${i % 3000}`), 0, `key-${i % 3000}`.length, true, i * 10, 10)
    await table.loadValues(4096, async (_position, length) => Buffer.alloc(length + 4096, 'x'))
    expect(table.size).toBe(3000)
    table.set(Buffer.from('key-1'), Buffer.from('new'))
    table.delete(Buffer.from('key-2'))
    table.copyIn(Buffer.from('fresh'), Buffer.from('value'))
    expect(table.size).toBe(3000)
    expect(table.get(Buffer.from('key-1'))?.toString()).toBe('new')
    expect(table.get(Buffer.from('key-2999'))?.toString()).toBe('x'.repeat(10))
    expect(table.get(Buffer.from('fresh'))?.toString()).toBe('value')
  })
})
