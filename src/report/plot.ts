// SVG charts for reports (accuracy vs ε, linearity scatter plots), produced by vega-lite → vega → SVG in Node.
// A series is a name plus {x, y} points; the chart gets a title, axis titles, a legend naming every series and an
// explicit white background so it reads in dark viewers. Rendering is headless (renderer 'none', no canvas).
// Spec language: https://vega.github.io/vega-lite/docs/ ; files are written atomically.
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { writeFileAtomic } from '../io/atomic.js';
import { shown } from '../engine/shown.js';

/** One named line or point cloud. */
export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

/** What every chart takes: texts, data, optional fixed axis ranges and the plot area's size in pixels. */
export interface ChartOptions {
  title: string;
  xTitle: string;
  yTitle: string;
  series: Series[];
  yDomain?: [number, number];
  xDomain?: [number, number];
  /** Width of the plot area (axes and legend come on top), default 420. */
  width?: number;
  /** Height of the plot area, default 280. */
  height?: number;
  /** Line charts: draw a point at every data point (default true). Scatter charts always draw points. */
  points?: boolean;
}

/** A straight reference line y = slope·x + intercept drawn across the x range, named in the legend. */
export interface ReferenceLine {
  slope: number;
  intercept: number;
  name: string;
}

type Row = { series: string; x: number; y: number };

const WIDTH = 420;
const HEIGHT = 280;

// Sizes chosen to stay legible when the SVG is shown at its natural size.
const CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  title: { fontSize: 16, anchor: 'start', offset: 10 },
  axis: { titleFontSize: 13, labelFontSize: 12, gridColor: '#e6e6e6' },
  legend: { titleFontSize: 13, labelFontSize: 12, symbolSize: 80, labelLimit: 260 },
  view: { stroke: '#bbbbbb' },
};

function isPosInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

function checkText(fn: string, name: string, v: unknown): void {
  if (typeof v !== 'string' || v.trim().length === 0) {
    throw new Error(`${fn}: opts.${name} expected a non-empty string, got ${JSON.stringify(v)}`);
  }
}

function checkDomain(fn: string, name: string, d: unknown): void {
  if (d === undefined) return;
  if (!(Array.isArray(d) && d.length === 2 && d.every(Number.isFinite) && d[0] < d[1])) {
    throw new Error(`${fn}: opts.${name} expected [lo, hi] with finite lo < hi, got ${JSON.stringify(d)}`);
  }
}

// Validate everything up front (one-line messages naming the series and point) and flatten to vega-lite rows.
function checkOptions(fn: string, opts: ChartOptions): Row[] {
  if (opts == null || typeof opts !== 'object') throw new Error(`${fn}: opts expected an object, got ${shown(opts)}`);
  checkText(fn, 'title', opts.title);
  checkText(fn, 'xTitle', opts.xTitle);
  checkText(fn, 'yTitle', opts.yTitle);
  checkDomain(fn, 'xDomain', opts.xDomain);
  checkDomain(fn, 'yDomain', opts.yDomain);
  if (opts.width !== undefined && !isPosInt(opts.width)) {
    throw new Error(`${fn}: opts.width expected a positive integer, got ${shown(opts.width)}`);
  }
  if (opts.height !== undefined && !isPosInt(opts.height)) {
    throw new Error(`${fn}: opts.height expected a positive integer, got ${shown(opts.height)}`);
  }
  if (opts.points !== undefined && typeof opts.points !== 'boolean') {
    throw new Error(`${fn}: opts.points expected a boolean, got ${JSON.stringify(opts.points)}`);
  }
  if (!Array.isArray(opts.series) || opts.series.length === 0) {
    throw new Error(`${fn}: opts.series expected a non-empty array of series, got ${JSON.stringify(opts.series)}`);
  }
  const rows: Row[] = [];
  const names = new Set<string>();
  opts.series.forEach((s, i) => {
    const at = `${fn}: opts.series[${i}]`;
    if (s == null || typeof s !== 'object') throw new Error(`${at} expected { name, points }, got ${shown(s)}`);
    if (typeof s.name !== 'string' || s.name.trim().length === 0) {
      throw new Error(`${at}.name expected a non-empty string, got ${JSON.stringify(s.name)}`);
    }
    if (names.has(s.name)) throw new Error(`${at}.name expected a unique name, got a second ${JSON.stringify(s.name)}`);
    names.add(s.name);
    if (!Array.isArray(s.points) || s.points.length === 0) {
      throw new Error(`${at} (${JSON.stringify(s.name)}).points expected a non-empty array of {x, y}, got ${Array.isArray(s.points) ? 'an empty array' : typeof s.points}`);
    }
    s.points.forEach((p, k) => {
      if (p == null || !Number.isFinite(p.x) || !Number.isFinite(p.y)) {
        throw new Error(`${at} (${JSON.stringify(s.name)}).points[${k}] expected finite x and y, got ${p == null ? p : `{ x: ${p.x}, y: ${p.y} }`}`);
      }
      rows.push({ series: s.name, x: p.x, y: p.y });
    });
  });
  return rows;
}

// About one tick label per 80 px across and 50 px up: without a canvas vega cannot measure text to thin
// overlapping labels, so the count is kept low enough that labels never collide.
function axis(field: 'x' | 'y', title: string, domain: [number, number] | undefined, px: number): Record<string, unknown> {
  return {
    field,
    type: 'quantitative',
    title,
    axis: { tickCount: Math.max(2, Math.round(px / (field === 'x' ? 80 : 50))) },
    scale: domain ? { domain, zero: false, nice: false } : { zero: false },
  };
}

/**
 * The top of every chart's vega-lite spec: schema, white background, title, plot size and the house's fonts, for
 * charts built from layers elsewhere in report/.
 * @example
 *   const spec = { ...chartBase({ title: 't', xTitle: 'x', yTitle: 'y', series }), layer: [...] };
 *   saveSvg('out/chart.svg', await specToSvg(spec));
 */
export function chartBase(opts: ChartOptions): Record<string, unknown> {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    padding: 12,
    title: opts.title,
    width: opts.width ?? WIDTH,
    height: opts.height ?? HEIGHT,
    config: CONFIG,
  };
}

/**
 * Render a vega-lite spec to an SVG string, headless (no canvas).
 * @example
 *   const svg = await specToSvg(lineChartSpec(opts));
 *   saveSvg('out/chart.svg', svg);
 */
export async function specToSvg(spec: Record<string, unknown>): Promise<string> {
  const compiled = vl.compile(spec as unknown as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * The vega-lite spec behind lineChartSvg (checked like it), for callers that want the JSON itself.
 * @example
 *   const spec = lineChartSpec({ title: 't', xTitle: 'eps', yTitle: 'acc', series });
 *   writeFileAtomic('out/acc.vl.json', JSON.stringify(spec));
 */
export function lineChartSpec(opts: ChartOptions): Record<string, unknown> {
  const rows = checkOptions('lineChartSpec', opts);
  const names = opts.series.map((s) => s.name);
  const series = { field: 'series', type: 'nominal', title: null, scale: { domain: names } };
  const showPoints = opts.points ?? true;
  return {
    ...chartBase(opts),
    data: { values: rows },
    mark: {
      type: 'line',
      strokeWidth: 2,
      clip: true,
      point: showPoints ? { filled: true, size: 50 } : false,
    },
    encoding: {
      x: axis('x', opts.xTitle, opts.xDomain, opts.width ?? WIDTH),
      y: axis('y', opts.yTitle, opts.yDomain, opts.height ?? HEIGHT),
      color: series,
      // A second cue besides colour, so series stay apart in grey print and for colour-blind readers.
      ...(showPoints ? { shape: series } : { strokeDash: series }),
    },
  };
}

/**
 * A line chart (one line per series, points on the lines unless `points: false`) as an SVG string.
 * Lines join points in order of x; the legend lists the series in the order given.
 * @example
 *   const svg = await lineChartSvg({ title: 'Accuracy under attack', xTitle: 'eps', yTitle: 'accuracy',
 *     series: [{ name: 'FGSM', points: [{ x: 0, y: 0.99 }, { x: 0.1, y: 0.6 }] }], yDomain: [0, 1] });
 */
export async function lineChartSvg(opts: ChartOptions): Promise<string> {
  return specToSvg(lineChartSpec(opts));
}

/**
 * The vega-lite spec behind scatterChartSvg (checked like it).
 * @example
 *   const spec = scatterChartSpec({ title: 't', xTitle: 'x', yTitle: 'y', series }, { slope: 1, intercept: 0, name: 'y = x' });
 *   vl.compile(spec as vl.TopLevelSpec);
 */
export function scatterChartSpec(opts: ChartOptions, reference?: ReferenceLine): Record<string, unknown> {
  const fn = 'scatterChartSpec';
  const rows = checkOptions(fn, opts);
  const names = opts.series.map((s) => s.name);
  const points = {
    data: { values: rows },
    mark: { type: 'point', filled: true, size: 40, opacity: 0.75, clip: true },
    encoding: {
      x: axis('x', opts.xTitle, opts.xDomain, opts.width ?? WIDTH),
      y: axis('y', opts.yTitle, opts.yDomain, opts.height ?? HEIGHT),
      color: { field: 'series', type: 'nominal', title: null, scale: { domain: names } },
    },
  };
  if (reference === undefined) return { ...chartBase(opts), ...points };

  if (reference == null || typeof reference !== 'object') {
    throw new Error(`${fn}: reference expected { slope, intercept, name }, got ${shown(reference)}`);
  }
  if (!Number.isFinite(reference.slope) || !Number.isFinite(reference.intercept)) {
    throw new Error(`${fn}: reference expected finite slope and intercept, got slope ${reference.slope}, intercept ${reference.intercept}`);
  }
  if (typeof reference.name !== 'string' || reference.name.trim().length === 0) {
    throw new Error(`${fn}: reference.name expected a non-empty string, got ${JSON.stringify(reference.name)}`);
  }
  if (names.includes(reference.name)) {
    throw new Error(`${fn}: reference.name expected a name no series has, got ${JSON.stringify(reference.name)}`);
  }
  let [x0, x1] = opts.xDomain ?? [Infinity, -Infinity];
  if (!opts.xDomain) {
    for (const r of rows) {
      x0 = Math.min(x0, r.x);
      x1 = Math.max(x1, r.x);
    }
  }
  const line = [x0, x1].map((x) => ({ series: reference.name, x, y: reference.slope * x + reference.intercept }));
  const colorDomain = [...names, reference.name];
  const color = { field: 'series', type: 'nominal', title: null, scale: { domain: colorDomain } };
  return {
    ...chartBase(opts),
    layer: [
      { ...points, encoding: { ...points.encoding, color } },
      {
        data: { values: line },
        mark: { type: 'line', strokeDash: [6, 4], strokeWidth: 1.5, clip: true },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, color },
      },
    ],
  };
}

/**
 * A scatter chart (points only, one colour per series) as an SVG string, with an optional dashed reference
 * line y = slope·x + intercept across the x range (opts.xDomain, else the data's x extent).
 * @example
 *   const svg = await scatterChartSvg({ title: 'Logit change vs eps·|w|₁', xTitle: 'predicted', yTitle: 'measured',
 *     series: [{ name: 'dense', points }] }, { slope: 1, intercept: 0, name: 'y = x' });
 */
export async function scatterChartSvg(opts: ChartOptions, reference?: ReferenceLine): Promise<string> {
  return specToSvg(scatterChartSpec(opts, reference));
}

/**
 * Write an SVG string to `path` atomically (temporary file + rename; folders are created).
 * @example
 *   saveSvg('out/accuracy-vs-eps.svg', await lineChartSvg(opts));
 *   saveSvg('/tmp/scatter.svg', svg);
 */
export function saveSvg(path: string, svg: string): void {
  if (typeof path !== 'string' || path.length === 0) {
    throw new Error(`saveSvg: path expected a non-empty string, got ${JSON.stringify(path)}`);
  }
  if (typeof svg !== 'string' || !svg.trimStart().startsWith('<svg')) {
    throw new Error(`saveSvg: svg expected a string starting with <svg, got ${typeof svg === 'string' ? JSON.stringify(svg.slice(0, 20)) : typeof svg}`);
  }
  writeFileAtomic(path, svg);
}
