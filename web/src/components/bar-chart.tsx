import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Bar {
  label: string;
  value: number;
  color: string;
}

/**
 * Category bars drawn by uPlot (a canvas, so it costs nothing to redraw on
 * every live update). One series per bar keeps each bar's own colour. The
 * canvas is hidden from assistive technology; a visually hidden table carries
 * the same numbers.
 */
export function BarChart({ bars, title, height = 220 }: { bars: readonly Bar[]; title: string; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = bars.map((b) => `${b.label}:${b.color}`).join('|');

  // Rebuild only when the set of bars changes; values are pushed with setData.
  // biome-ignore lint/correctness/useExhaustiveDependencies: `shape` stands for the bar set; values go through setData below
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const xs = bars.map((_, i) => i);
    const labels = bars.map((b) => b.label);
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: { time: false, range: [-0.5, bars.length - 0.5] },
        y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] },
      },
      axes: [
        { values: (_u, splits) => splits.map((s) => labels[s] ?? ''), splits: () => xs, gap: 4, size: 36 },
        { size: 40, values: (_u, splits) => splits.map((s) => (Number.isInteger(s) ? String(s) : '')) },
      ],
      series: [
        {},
        ...bars.map((b) => ({
          label: b.label,
          fill: b.color,
          stroke: b.color,
          width: 0,
          paths: uPlot.paths.bars!({ size: [0.7, 60] }),
          points: { show: false },
        })),
      ],
    };
    const u = new uPlot(opts, dataOf(bars), el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [shape, height]);

  useEffect(() => {
    plot.current?.setData(dataOf(bars));
  }, [bars]);

  return (
    <figure className="oe-chart">
      <div ref={box} aria-hidden="true" />
      <figcaption className="oe-visually-hidden">{title}</figcaption>
      <table className="oe-visually-hidden">
        <caption>{title}</caption>
        <tbody>
          {bars.map((b) => (
            <tr key={b.label}>
              <th scope="row">{b.label}</th>
              <td>{b.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

function dataOf(bars: readonly Bar[]): uPlot.AlignedData {
  const xs = bars.map((_, i) => i);
  return [xs, ...bars.map((b, i) => xs.map((x) => (x === i ? b.value : null)))];
}
