import { EncodeSlots, type EncodeLane } from '../../src/images/encode-slots'

/** Work that runs until the test says it is done; `started` records the order the pieces got a slot. */
function harness(slots: EncodeSlots) {
  const started: string[] = []
  const finish = new Map<string, () => void>()
  const submit = (name: string, lane: EncodeLane) =>
    slots.run(lane, () => new Promise<void>((resolve) => {
      started.push(name)
      finish.set(name, resolve)
    }))
  const done = async (name: string) => {
    finish.get(name)!()
    await new Promise((resolve) => setImmediate(resolve))
  }
  return { started, submit, done }
}

const settle = () => new Promise((resolve) => setImmediate(resolve))

describe('EncodeSlots', () => {
  test('a small image starts at once while large ones hold the large slot and queue behind it', async () => {
    const slots = new EncodeSlots(1, 1)
    const h = harness(slots)
    void h.submit('large1', 'large')
    void h.submit('large2', 'large')
    void h.submit('large3', 'large')
    void h.submit('small', 'small')
    await settle()
    expect(h.started).toEqual(['large1', 'small'])
    expect(slots.queued('large')).toBe(2)
  })

  test('a small image borrows a free large slot when its own is busy; a large image never takes a small slot', async () => {
    const slots = new EncodeSlots(1, 1)
    const h = harness(slots)
    void h.submit('small1', 'small')
    void h.submit('small2', 'small')
    await settle()
    expect(h.started).toEqual(['small1', 'small2'])
    void h.submit('large', 'large')
    await h.done('small1')
    expect(h.started).toEqual(['small1', 'small2'])
    await h.done('small2')
    expect(h.started).toEqual(['small1', 'small2', 'large'])
  })

  test('a freed large slot goes to the oldest large image before a waiting small one', async () => {
    const slots = new EncodeSlots(1, 1)
    const h = harness(slots)
    void h.submit('large1', 'large')
    void h.submit('small1', 'small')
    void h.submit('large2', 'large')
    void h.submit('small2', 'small')
    await settle()
    await h.done('large1')
    expect(h.started).toEqual(['large1', 'small1', 'large2'])
    await h.done('small1')
    expect(h.started).toEqual(['large1', 'small1', 'large2', 'small2'])
  })

  test('without small slots every image shares one first-come lane (a small one is not starved)', async () => {
    const slots = new EncodeSlots(1, 0)
    const h = harness(slots)
    void h.submit('large1', 'large')
    void h.submit('small', 'small')
    void h.submit('large2', 'large')
    await settle()
    await h.done('large1')
    expect(h.started).toEqual(['large1', 'small'])
  })

  test('a slot is released when the work fails', async () => {
    const slots = new EncodeSlots(1, 0)
    await expect(slots.run('large', async () => { throw new Error('boom') })).rejects.toThrow('boom')
    await expect(slots.run('large', async () => 'next')).resolves.toBe('next')
  })
})
