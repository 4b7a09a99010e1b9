import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface TimeSeries {
  label: string;
  color: string;
  /** One value per timestamp (null = no sample). */
  values: readonly (number | null)[];
}

/**
 * A time-series line chart drawn by uPlot on a canvas: cheap to redraw on
 * every live update (`setData`, no re-layout). Timestamps are ms. The canvas
 * is hidden from assistive technology; the newest value of each series is
 * written out as text next to it.
 */
export function TimeChart({
  title,
  ts,
  series,
  unit,
  height = 180,
  testId,
}: {
  title: string;
  ts: readonly number[];
  series: readonly TimeSeries[];
  unit: (n: number) => string;
  height?: number;
  testId?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const unitRef = useRef(unit);
  unitRef.current = unit;
  const shape = series.map((s) => `${s.label}:${s.color}`).join('|');

  // biome-ignore lint/correctness/useExhaustiveDependencies: `shape` stands for the series set; values go through setData
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(240, el.clientWidth),
      height,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] } },
      axes: [{}, { size: 84, values: (_u, splits) => splits.map((v) => unitRef.current(v)) }],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          fill: `${s.color}22`,
          spanGaps: true,
          value: (_u: uPlot, v: number | null) => (v === null ? '-' : unitRef.current(v)),
        })),
      ],
    };
    const u = new uPlot(opts, dataOf(ts, series), el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(240, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [shape, height]);

  useEffect(() => {
    plot.current?.setData(dataOf(ts, series));
  }, [ts, series]);

  const last = ts.length - 1;
  return (
    <figure className="oe-chart oe-time-chart" data-testid={testId} data-points={ts.length}>
      <figcaption className="oe-chart-title">
        <strong>{title}</strong>
        {last >= 0 && (
          <span className="oe-muted" data-testid={testId ? `${testId}-latest` : undefined}>
            {' '}
            {series
              .map((s) => `${s.label} ${s.values[last] == null ? '-' : unit(s.values[last] as number)}`)
              .join(' · ')}
          </span>
        )}
      </figcaption>
      <div ref={box} aria-hidden="true" />
    </figure>
  );
}

function dataOf(ts: readonly number[], series: readonly TimeSeries[]): uPlot.AlignedData {
  return [ts.map((t) => t / 1000), ...series.map((s) => [...s.values])] as uPlot.AlignedData;
}
