import { useEffect, useRef, useState } from 'preact/hooks'
import type uPlot from 'uplot'
import type { ChartData } from '../charts/history'
import { HISTORY_MS } from '../charts/history'

/** Line colours, in turn; dark enough on white, told apart without colour by the legend's order. */
const COLOURS = ['#1f4e79', '#c2571a', '#2e7d32', '#8e24aa', '#a4161a', '#00838f', '#6d4c41', '#546e7a']
const HEIGHT = 180
/** The x axis spans at least this much, so the first seconds after opening the page are not stretched across it. */
const MIN_SPAN_S = 60

/** Clock times on the x axis, 24-hour like the rest of the console; seconds while the span is short. */
function timeLabels(u: uPlot, splits: number[]): string[] {
  const span = (u.scales.x!.max ?? 0) - (u.scales.x!.min ?? 0)
  const options: Intl.DateTimeFormatOptions = span <= 300 ? { hour12: false, hour: '2-digit', minute: '2-digit', second: '2-digit' } : { hour12: false, hour: '2-digit', minute: '2-digit' }
  return splits.map((s) => new Date(s * 1000).toLocaleTimeString(undefined, options))
}

/** Series options for the lines of `data`, in order. */
function seriesOf(data: ChartData): uPlot.Series[] {
  return [{}, ...data.lines.map((line, i) => ({ label: line.name, stroke: COLOURS[i % COLOURS.length], width: 2, spanGaps: false }))]
}

let loading: Promise<typeof uPlot> | undefined
/** uPlot's chunk, fetched once, the first time a chart is shown. */
const loadUPlot = (): Promise<typeof uPlot> => (loading ??= import('../charts/uplot').then((m) => m.default))

/** The lines' names joined: when they change (a replica came or went), the chart is made again. */
const keyOf = (data: ChartData): string => data.lines.map((l) => l.name).join('\n')

/**
 * One line chart of up to the last ten minutes, drawn by uPlot on a canvas (no
 * inline script or style, so it works under the console's CSP). Width follows
 * its box (ResizeObserver), so it reads at a phone's 390 px too; the x axis
 * ends at now, so a quiet stretch shows as flat or empty rather than squeezed out.
 */
export function TimeChart({ title, unit, data }: { title: string; unit: string; data: ChartData }) {
  const box = useRef<HTMLDivElement>(null)
  const chart = useRef<{ plot: uPlot; key: string } | null>(null)
  const [UPlot, setUPlot] = useState<typeof uPlot | null>(null)
  useEffect(() => { void loadUPlot().then((lib) => setUPlot(() => lib)) }, [])

  useEffect(() => {
    const element = box.current
    if (!element || !UPlot) return
    const aligned: uPlot.AlignedData = [data.times, ...data.lines.map((l) => l.values)]
    const key = keyOf(data)
    if (chart.current && chart.current.key === key) {
      chart.current.plot.setData(aligned, false)
    } else {
      chart.current?.plot.destroy()
      const plot = new UPlot({
        width: element.clientWidth || 320,
        height: HEIGHT,
        series: seriesOf(data),
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max ?? 0) * 1.1] } },
        axes: [{ stroke: '#5c6370', values: timeLabels, space: 70 }, { stroke: '#5c6370', size: 48 }],
        legend: { live: false },
        cursor: { drag: { x: false, y: false } }
      }, aligned, element)
      chart.current = { plot, key }
    }
    // From the first sample (at most ten minutes back) to now: a page open for a minute shows that minute.
    const now = Date.now() / 1000
    const span = Math.min(HISTORY_MS / 1000, Math.max(MIN_SPAN_S, now - (data.times[0] ?? now)))
    chart.current.plot.setScale('x', { min: now - span, max: now })
  }, [data, UPlot])

  useEffect(() => {
    const element = box.current
    if (!element) return undefined
    const observer = new ResizeObserver(() => chart.current?.plot.setSize({ width: element.clientWidth, height: HEIGHT }))
    observer.observe(element)
    return () => {
      observer.disconnect()
      chart.current?.plot.destroy()
      chart.current = null
    }
  }, [])

  return (
    <figure class='chart'>
      <figcaption>{title}</figcaption>
      <div ref={box} class='chart-canvas' role='img' aria-label={`${title}: ${summary(data, unit)}`} data-points={data.times.length} />
    </figure>
  )
}

const shown = (v: number | null | undefined, unit: string): string => (v === null || v === undefined ? '—' : `${Number(v.toFixed(2))} ${unit}`)

/** Each line's newest value and its peak, for screen readers (and tests): a canvas says nothing by itself. */
function summary(data: ChartData, unit: string): string {
  if (data.lines.length === 0) return 'no data yet'
  return data.lines.map((l) => {
    const values = l.values.filter((v): v is number => v !== null)
    return `${l.name} ${shown(values.at(-1), unit)} (peak ${shown(values.length > 0 ? Math.max(...values) : null, unit)})`
  }).join(', ')
}
