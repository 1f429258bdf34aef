/**
 * The numbers a row is made of: per-round samples of a subject and its
 * baseline run in alternation, reduced to medians and a spread, and goals a
 * program can check. A median over interleaved rounds moves only when most
 * rounds move, so one disturbed round (a neighbour's burst on a shared
 * machine) can neither pass nor fail a goal; min-max shows how noisy it was.
 */

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0
}

/** Median (mean of the two middle values for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (finite.length === 0) return NaN
  const mid = Math.floor(finite.length / 2)
  return finite.length % 2 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

/** One round's measurement of one side: `value` in the row's unit, CPU µs per operation where known. */
export interface Sample {
  value: number
  cpuUsPerOp?: number
}

/** What an interleaved comparison reduces to (see summarize). */
export interface Summary {
  /** Median of the subject's per-round values. */
  value: number
  /** Median of the baseline's per-round values. */
  baselineValue: number
  /** Per round: subject/baseline (baseline/subject when lower is better), in round order. */
  ratios: number[]
  ratioMedian: number
  ratioMin: number
  ratioMax: number
  rounds: number
  cpuUsPerOp?: number
  baselineCpuUsPerOp?: number
}

/**
 * Median values, per-round ratios and their spread, median CPU per operation.
 * Rounds are paired by index: round i of the subject ran right after round i
 * of the baseline, so their ratio saw (nearly) the same machine load.
 */
export function summarize(baseline: readonly Sample[], subject: readonly Sample[], { lowerIsBetter = false } = {}): Summary {
  if (baseline.length !== subject.length || subject.length === 0) throw new Error(`unpaired rounds: ${baseline.length} baseline, ${subject.length} subject`)
  const ratios = subject.map((s, i) => {
    const b = baseline[i]!.value
    return lowerIsBetter ? b / s.value : s.value / b
  })
  const cpu = (samples: readonly Sample[]) => {
    const known = samples.map((s) => s.cpuUsPerOp).filter((v): v is number => v !== undefined && Number.isFinite(v))
    return known.length ? median(known) : undefined
  }
  const finite = ratios.filter(Number.isFinite)
  return {
    value: median(subject.map((s) => s.value)),
    baselineValue: median(baseline.map((s) => s.value)),
    ratios,
    ratioMedian: median(ratios),
    ratioMin: finite.length ? Math.min(...finite) : NaN,
    ratioMax: finite.length ? Math.max(...finite) : NaN,
    rounds: subject.length,
    cpuUsPerOp: cpu(subject),
    baselineCpuUsPerOp: cpu(baseline)
  }
}

/**
 * A goal a program can check. `on`: `ratio` is the median ratio, `value` the
 * median value (in the row's unit), `cpuRatio` the subject's CPU µs per
 * operation over the baseline's.
 */
export interface Goal {
  on: 'ratio' | 'value' | 'cpuRatio'
  op: '>=' | '>' | '<=' | '<'
  target: number
}

export function goalText(goal: Goal, unit: string): string {
  if (goal.on === 'value') return `value ${goal.op} ${goal.target} ${unit}`
  if (goal.on === 'cpuRatio') return `CPU/op ${goal.op} ${goal.target}x baseline`
  return `ratio ${goal.op} ${goal.target}`
}

/** Whether every goal holds for the row's medians; undefined when the row has no goal. */
export function goalsMet(goals: readonly Goal[] | undefined, row: { value: number, ratioMedian: number, cpuRatio?: number }): boolean | undefined {
  if (!goals || goals.length === 0) return undefined
  return goals.every((goal) => {
    const actual = goal.on === 'value' ? row.value : goal.on === 'ratio' ? row.ratioMedian : row.cpuRatio
    if (actual === undefined || !Number.isFinite(actual)) return false
    if (goal.op === '>=') return actual >= goal.target
    if (goal.op === '>') return actual > goal.target
    if (goal.op === '<=') return actual <= goal.target
    return actual < goal.target
  })
}
