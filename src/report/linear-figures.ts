// The linear explanation's figures (Goodfellow et al. 2015, §3 and Fig. 4): the whole network's first-order ratio
// against ε, the logits of every class along the FGSM direction, and wᵀη = ε·m·n against the input dimension n.
// SVG line and scatter charts of the measurements that src/analysis/linear.ts, sweep.ts and n-scaling.ts make.
import type { NetworkLinearity } from '../analysis/linear.js';
import type { NScalingPoint } from '../analysis/n-scaling.js';
import type { SweepResult } from '../analysis/sweep.js';
import { lineChartSvg, scatterChartSvg, type Series } from './plot.js';

/**
 * networkLinearity's ratio (z(x+η) − z(x)) / (ε·‖∇x z‖₁) against log₁₀ ε as a line chart: its median, 10th and
 * 90th percentiles over the images, and the line ratio = 1 of a linear network.
 * @example
 *   saveSvg('out/network.svg', await networkPlotSvg(networkLinearity(model, x, y, [0.001, 0.01, 0.1, 0.25])));
 */
export async function networkPlotSvg(network: NetworkLinearity[]): Promise<string> {
  const log = (e: number) => Math.log10(e);
  return lineChartSvg({
    title: 'Network linearity: (z(x+η) − z(x)) / (ε·‖∇x z‖₁), η = ε·sign(∇x z)',
    xTitle: 'log₁₀ ε',
    yTitle: 'ratio actual / first-order',
    series: [
      { name: 'median', points: network.map((r) => ({ x: log(r.eps), y: r.medianRatio })) },
      { name: '10th percentile', points: network.map((r) => ({ x: log(r.eps), y: r.p10 })) },
      { name: '90th percentile', points: network.map((r) => ({ x: log(r.eps), y: r.p90 })) },
      { name: 'linear (ratio 1)', points: network.map((r) => ({ x: log(r.eps), y: 1 })) },
    ],
    width: 480,
  });
}

/**
 * The logits of every class against ε as a line chart (the paper's Fig. 4), series "class k", the true class
 * marked "(true)".
 * @example
 *   saveSvg('out/sweep.svg', await sweepPlotSvg(fgsmSweep(model, x, y, { maxEps: 0.5, points: 41 }), false));
 */
export async function sweepPlotSvg(r: SweepResult, clipped: boolean): Promise<string> {
  const logits = clipped ? r.logitsClipped : r.logitsUnclipped;
  if (logits.length !== r.eps.length || logits.length === 0) {
    throw new Error(`sweepPlotSvg: ${logits.length} logit rows for ${r.eps.length} values of ε`);
  }
  const K = logits[0].length;
  const series = Array.from({ length: K }, (_, k) => ({
    name: `class ${k}${k === r.label ? ' (true)' : ''}`,
    points: r.eps.map((x, i) => ({ x, y: logits[i][k] })),
  }));
  const what = clipped ? 'clipped to [0, 1]' : 'unclipped';
  const image = r.index === undefined ? `label ${r.label}` : `image ${r.index}, label ${r.label}`;
  return lineChartSvg({
    title: `Logits along x + ε·sign(∇x J), ${what} (${image})`,
    xTitle: 'ε',
    yTitle: 'logit',
    series,
    xDomain: [r.eps[0], r.eps[r.eps.length - 1]],
    points: false,
    width: 480,
  });
}

/**
 * wᵀη against n as a scatter chart, random and trained points as two series, with the dashed line ε·m·n for the
 * random points' m and ε (for the trained points' mean m and ε when there are no random points).
 * @example
 *   saveSvg('out/n-scaling.svg', await nScalingPlotSvg([...randomNScaling(r), ...(await trainedNScaling(t))]));
 */
export async function nScalingPlotSvg(points: NScalingPoint[]): Promise<string> {
  if (!Array.isArray(points) || points.length === 0) throw new Error('nScalingPlotSvg: points must be a non-empty array');
  const random = points.filter((p) => p.source === 'random');
  const trained = points.filter((p) => p.source === 'trained');
  const mean = (ps: NScalingPoint[], f: (p: NScalingPoint) => number) => ps.reduce((s, p) => s + f(p), 0) / ps.length;
  const fmt = (v: number) => Number(v.toPrecision(3)).toString();
  const series: Series[] = [];
  if (random.length) {
    series.push({ name: `random w (m = ${fmt(mean(random, (p) => p.m))})`, points: random.map((p) => ({ x: p.n, y: p.wEta })) });
  }
  if (trained.length) {
    // No m in this name: a trained model's m changes with n (it shrinks as the inputs multiply).
    series.push({ name: 'trained softmax, class rows', points: trained.map((p) => ({ x: p.n, y: p.wEta })) });
  }
  const ref = random.length ? random : trained;
  const m = mean(ref, (p) => p.m), eps = mean(ref, (p) => p.eps);
  return scatterChartSvg(
    {
      title: `wᵀη = ε·m·n grows linearly with n (ε = ${fmt(eps)})`,
      xTitle: 'input dimension n',
      yTitle: 'wᵀη, η = ε·sign(w)',
      series,
      width: 480,
    },
    { slope: eps * m, intercept: 0, name: 'ε·m·n' },
  );
}
