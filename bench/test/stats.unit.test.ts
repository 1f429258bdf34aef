import { goalsMet, goalText, median, summarize } from '../src/stats'

describe('summarize', () => {
  it('pairs rounds by index and takes medians, so one disturbed round moves neither value nor ratio', () => {
    const baseline = [{ value: 100 }, { value: 100 }, { value: 20 }, { value: 100 }, { value: 100 }]
    const subject = [{ value: 90 }, { value: 95 }, { value: 40 }, { value: 85 }, { value: 92 }]
    const s = summarize(baseline, subject)
    expect(s.value).toBe(90)
    expect(s.baselineValue).toBe(100)
    expect(s.ratios).toEqual([0.9, 0.95, 2, 0.85, 0.92])
    expect(s.ratioMedian).toBe(0.92)
    expect([s.ratioMin, s.ratioMax]).toEqual([0.85, 2])
    expect(s.rounds).toBe(5)
  })

  it('inverts the ratio when lower is better and reports median CPU per operation of each side', () => {
    const s = summarize([{ value: 0.5, cpuUsPerOp: 10 }, { value: 0.4, cpuUsPerOp: 30 }], [{ value: 1, cpuUsPerOp: 20 }, { value: 2, cpuUsPerOp: 40 }], { lowerIsBetter: true })
    expect(s.ratios).toEqual([0.5, 0.2])
    expect(s.ratioMedian).toBeCloseTo(0.35)
    expect(s.cpuUsPerOp).toBe(30)
    expect(s.baselineCpuUsPerOp).toBe(20)
  })

  it('refuses unpaired rounds', () => {
    expect(() => summarize([{ value: 1 }], [])).toThrow(/unpaired/)
  })
})

describe('median', () => {
  it('ignores NaN and averages the middle pair', () => {
    expect(median([3, NaN, 1, 2, 4])).toBe(2.5)
    expect(median([])).toBeNaN()
  })
})

describe('goalsMet', () => {
  const row = { value: 0.7, ratioMedian: 0.92, cpuRatio: 1.2 }

  it('checks every goal on its own quantity', () => {
    expect(goalsMet([{ on: 'ratio', op: '>=', target: 0.9 }], row)).toBe(true)
    expect(goalsMet([{ on: 'ratio', op: '>=', target: 0.9 }, { on: 'cpuRatio', op: '<=', target: 1.15 }], row)).toBe(false)
    expect(goalsMet([{ on: 'value', op: '<', target: 0.6 }], row)).toBe(false)
    expect(goalsMet([{ on: 'value', op: '<', target: 1 }], row)).toBe(true)
  })

  it('has no verdict without goals and fails a goal on a quantity that was not measured', () => {
    expect(goalsMet(undefined, row)).toBeUndefined()
    expect(goalsMet([{ on: 'cpuRatio', op: '<=', target: 2 }], { value: 1, ratioMedian: 1 })).toBe(false)
  })

  it('prints goals with the row unit', () => {
    expect(goalText({ on: 'value', op: '<', target: 0.6 }, 's')).toBe('value < 0.6 s')
    expect(goalText({ on: 'cpuRatio', op: '<=', target: 1.15 }, 'req/s')).toBe('CPU/op <= 1.15x baseline')
  })
})
