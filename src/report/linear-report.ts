// The report of `nablax linear` (the linear explanation of adversarial examples measured, Goodfellow, Shlens &
// Szegedy 2015, §3) from its measurements: report.md with the Dense units' wᵀη = ε·m·n, the whole network's
// first-order ratio per ε, and the links to the plots (report/linear-figures.ts). The CLI writes the files.
import type { LayerSummary, NetworkLinearity } from '../analysis/linear.js';
import { plural } from './text.js';

/**
 * A number for the linear report: `digits` significant digits, exponent form when very large or very small.
 * @example
 *   fmt(0.012345);   // '0.0123'
 *   fmt(123456);     // '1.23e+5'
 */
export const fmt = (v: number, digits = 3): string => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : v.toPrecision(digits));

/**
 * report.md of `nablax linear --out`: the Dense units' ε·m·n, the whole network's ratio per ε, the links to the
 * sweep plots, network.svg and n-scaling.svg (which go beside it).
 * @example
 *   writeFileAtomic(join(dir, 'report.md'), linearMarkdown({ modelFile, modelName: 'cnn', data, eps: 0.25, count: 100, logit: 'true', summaries, network, sweeps: [], nScaling: false }));
 */
export function linearMarkdown(o: {
  modelFile: string;
  modelName: string;
  data: string;
  eps: number;
  count: number;
  logit: string;
  summaries: LayerSummary[];
  network: NetworkLinearity[];
  sweeps: { index: number; files: string[] }[];
  nScaling: boolean;
}): string {
  const lines = [`# Linearity of ${o.modelFile}`, '', `Model: ${o.modelName}. Data: ${o.data}, ${plural(o.count, 'test image')}.`, ''];
  lines.push(
    '## Dense units: wᵀη = ε·m·n',
    '',
    `For η = ε·sign(w), wᵀ(x + η) = wᵀx + wᵀη and wᵀη = ε·Σ|wᵢ| = ε·m·n, where n is the input size and m the mean |w|.`,
    'A change of ε per input, too small to see, adds up over n inputs into a change that grows linearly with n.',
    `Measured here at ε = ${o.eps} on the first test image: every unit's pre-activation output, run through the`,
    'layer in float64 at its actual input a and at a + ε·sign(W[k,:]); the ratio measured / predicted is 1 for a linear unit.',
    '',
  );
  if (o.summaries.length === 0) {
    lines.push('The model has no Dense layers: only the network part below was measured.', '');
  } else {
    for (const s of o.summaries) {
      lines.push(
        `- ${s.last ? `${o.modelName} (logits)` : `layer ${s.layer}`}: m = ${fmt(s.meanAbsW)}, n = ${s.n}, ε·m·n = ${fmt(s.meanPredicted)} ` +
          `${s.last ? 'logits' : 'in each unit'} at ε = ${o.eps}.`,
      );
    }
    lines.push(
      '',
      '| layer | units | n | mean m = mean \\|w\\| | mean ε·m·n | min ratio | max ratio |',
      '|---|---|---|---|---|---|---|',
      ...o.summaries.map((s) => `| ${s.layer} | ${s.units} | ${s.n} | ${fmt(s.meanAbsW, 4)} | ${fmt(s.meanPredicted, 4)} | ${s.minRatio.toFixed(8)} | ${s.maxRatio.toFixed(8)} |`),
      '',
    );
  }
  lines.push(
    '## The whole network',
    '',
    `For each of the ${plural(o.count, 'test image')}, g = ∇x z_k is the gradient of the ${o.logit === 'true' ? 'true class' : 'predicted class'} logit`,
    'z_k (the network\'s own "w" at x). The first-order prediction for η = ε·sign(g) is ε·‖g‖₁; the ratio is',
    '(z_k(x + η) − z_k(x)) / (ε·‖g‖₁), with η not clipped to [0, 1], because the linearity argument is about the',
    'unconstrained direction. A ratio near 1 at large ε means the network behaves linearly enough for FGSM to work.',
    '',
    '| ε | median ratio | p10 | p90 |',
    '|---|---|---|---|',
    ...o.network.map((r) => `| ${r.eps} | ${r.medianRatio.toFixed(4)} | ${r.p10.toFixed(4)} | ${r.p90.toFixed(4)} |`),
    '',
    '![network linearity](network.svg)',
    '',
  );
  if (o.sweeps.length) {
    lines.push(
      '## Logits along the FGSM direction',
      '',
      'Every logit at x + ε·sign(∇x J(x, y)) for ε across the range, unclipped and clipped to [0, 1] (the paper\'s Fig. 4).',
      '',
      ...o.sweeps.flatMap((s) => [`![test image ${s.index}, unclipped](${s.files[0]})`, `![test image ${s.index}, clipped](${s.files[1]})`, '']),
    );
  }
  if (o.nScaling) {
    lines.push(
      '## wᵀη against n',
      '',
      `Random weight vectors with the mean |w| of the model's first Dense layer: wᵀη = ε·m·n grows linearly with n` +
        ` (with --trained-resolutions, also the class rows of softmax models trained at several input sizes).`,
      '',
      '![n scaling](n-scaling.svg)',
      '',
    );
  }
  return lines.join('\n');
}
