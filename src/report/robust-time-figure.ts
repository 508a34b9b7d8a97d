// Robust accuracy against training time (issue 17's figure): one line per training run from its per-epoch PGD-40
// measurements, each run's final AutoAttack figure as a large marker (a diamond; a triangle for its weight average),
// and published models as labelled dashed horizontal lines. Percent on y (0–100), minutes on x.
// Built from vega-lite layers (https://vega.github.io/vega-lite/docs/layer.html) on plot.ts's base and renderer.
import { chartBase, specToSvg } from './plot.js';

/** One run: its curve (may be empty) and its final marks, x in minutes, y in percent. */
export interface RobustTimeRun {
  name: string;
  curve: { x: number; y: number }[];
  /** Final AutoAttack points; `kind` names the marker in the legend ('AutoAttack', 'AutoAttack, weight average'). */
  marks: { x: number; y: number; kind: string }[];
}

/** A published model as a horizontal line at y percent. */
export interface ReferenceLevel {
  name: string;
  y: number;
}

export interface RobustTimeChartOptions {
  title: string;
  /** A line under the title (what the lines and markers measure). */
  subtitle?: string;
  runs: RobustTimeRun[];
  references: ReferenceLevel[];
  width?: number;
  height?: number;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function check(o: RobustTimeChartOptions): void {
  const f = 'robustTimeChartSpec';
  if (!Array.isArray(o.runs) || o.runs.length === 0) throw new Error(`${f}: opts.runs expected a non-empty array, got ${JSON.stringify(o.runs)}`);
  const names = new Set<string>();
  o.runs.forEach((r, i) => {
    if (typeof r.name !== 'string' || !r.name.trim() || names.has(r.name)) throw new Error(`${f}: opts.runs[${i}].name expected a unique non-empty string, got ${JSON.stringify(r.name)}`);
    names.add(r.name);
    if (r.curve.length + r.marks.length === 0) throw new Error(`${f}: opts.runs[${i}] (${r.name}) has neither a curve nor a mark`);
    for (const p of [...r.curve, ...r.marks]) {
      if (!finite(p.x) || !finite(p.y)) throw new Error(`${f}: opts.runs[${i}] (${r.name}) expected finite x and y, got { x: ${p.x}, y: ${p.y} }`);
    }
  });
  o.references.forEach((r, i) => {
    if (!finite(r.y) || typeof r.name !== 'string' || !r.name.trim()) throw new Error(`${f}: opts.references[${i}] expected { name, y }, got ${JSON.stringify(r)}`);
  });
}

/**
 * The vega-lite spec of the chart (checked: names unique, every point finite).
 * @example
 *   const spec = robustTimeChartSpec({ title: 'Robust accuracy vs training time', runs, references: [{ name: 'Madry et al. 2018', y: 88.5 }] });
 *   await specToSvg(spec);
 */
export function robustTimeChartSpec(o: RobustTimeChartOptions): Record<string, unknown> {
  check(o);
  const width = o.width ?? 520, height = o.height ?? 360;
  const names = o.runs.map((r) => r.name);
  const kinds = [...new Set(o.runs.flatMap((r) => r.marks.map((m) => m.kind)))];
  const xMax = Math.max(1e-3, ...o.runs.flatMap((r) => [...r.curve, ...r.marks].map((p) => p.x))) * 1.05;
  const x = { field: 'x', type: 'quantitative', title: 'training time (minutes)', scale: { domain: [0, xMax], nice: false }, axis: { tickCount: Math.round(width / 80) } };
  // y from a multiple of 10 below everything shown (runs and references) to 100: the interesting band stays wide
  const yMin = Math.max(0, 10 * Math.floor((Math.min(...o.references.map((r) => r.y), ...o.runs.flatMap((r) => [...r.curve, ...r.marks].map((p) => p.y))) - 2) / 10));
  const y = { field: 'y', type: 'quantitative', title: 'robust accuracy (%)', scale: { domain: [yMin, 100], nice: false }, axis: { tickCount: Math.round(height / 50) } };
  const color = { field: 'series', type: 'nominal', title: 'run', scale: { domain: names } };
  // labels alternate sides in order of height, so that two close levels (TRADES 92.81, CROWN-IBP 93.96) do not collide
  const refs = [...o.references].sort((a, b) => a.y - b.y).map((r, i) => ({ ...r, side: i % 2 === 0 ? 'left' : 'right' }));
  const label = (side: 'left' | 'right') => ({
    data: { values: refs.filter((r) => r.side === side).map((r) => ({ x: side === 'left' ? xMax * 0.01 : xMax * 0.99, y: r.y, text: `${r.name} ${r.y.toFixed(2)}%` })) },
    mark: { type: 'text', align: side, baseline: 'bottom', dy: -2, fontSize: 10, color: '#555555' },
    encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, text: { field: 'text' } },
  });
  const layer: Record<string, unknown>[] = [
    {
      data: { values: refs.map((r) => ({ y: r.y })) },
      mark: { type: 'rule', strokeDash: [5, 4], strokeWidth: 1, color: '#999999' },
      encoding: { y: { field: 'y', type: 'quantitative' } },
    },
    label('left'),
    label('right'),
    {
      data: { values: o.runs.flatMap((r) => r.curve.map((p) => ({ series: r.name, x: p.x, y: p.y }))) },
      mark: { type: 'line', strokeWidth: 2, clip: true, point: { filled: true, size: 40 } },
      encoding: { x, y, color },
    },
    {
      data: { values: o.runs.flatMap((r) => r.marks.map((m) => ({ series: r.name, x: m.x, y: m.y, kind: m.kind }))) },
      mark: { type: 'point', filled: true, size: 170, stroke: '#222222', strokeWidth: 1, opacity: 1, clip: true },
      encoding: { x, y, color, shape: { field: 'kind', type: 'nominal', title: 'final measurement', scale: { domain: kinds, range: ['diamond', 'triangle-up', 'square', 'cross'].slice(0, kinds.length) } } },
    },
  ];
  const base = chartBase({ title: o.title, xTitle: 'x', yTitle: 'y', series: [{ name: 'x', points: [{ x: 0, y: 0 }] }], width, height });
  return { ...base, ...(o.subtitle ? { title: { text: o.title, subtitle: o.subtitle, subtitleFontSize: 11, subtitleColor: '#555555' } } : {}), layer };
}

/**
 * The chart as an SVG string.
 * @example
 *   saveSvg('runs/robust/robust-vs-time.svg', await robustTimeChartSvg({ title, runs, references }));
 */
export async function robustTimeChartSvg(o: RobustTimeChartOptions): Promise<string> {
  return specToSvg(robustTimeChartSpec(o));
}
