// The logits along the FGSM direction: x(ε) = x + ε·d with d = sign(∇ₓJ(x, y)) taken once at x, for ε evenly
// spaced in [−maxEps, maxEps] (0 included), with and without clipping to [0, 1]. x is [1, C, H, W]; logits [P, K].
// Goodfellow, Shlens & Szegedy 2015 (arXiv 1412.6572), Fig. 4: for ReLU/maxout nets the unclipped logits are
// nearly piecewise linear in ε, and a softmax (linear) model's are exactly affine; R² of a straight-line fit says how.
import { inputGradient } from '../attacks/input-gradient.js';
import { Tensor, alloc, shapeStr } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import { predict } from '../layers/predict.js';

export interface SweepResult {
  /** Index of the image in its dataset, when the caller knows it (only used in the plot's title). */
  index?: number;
  label: number;
  /** The ε grid, ascending, symmetric, with eps[(points − 1) / 2] === 0 exactly. */
  eps: number[];
  /** logitsUnclipped[i][k]: logit of class k at x + eps[i]·d. */
  logitsUnclipped: number[][];
  /** logitsClipped[i][k]: logit of class k at clip[0,1](x + eps[i]·d). */
  logitsClipped: number[][];
  /** Per class, R² of the least-squares line logit ≈ a + b·ε (unclipped); 1 when the logit is constant. */
  r2: number[];
  r2Clipped: number[];
  /** The largest run of grid points containing ε = 0 on which the true class has the largest logit (unclipped),
   *  as [first ε, last ε] of that run; null when the model misclassifies x. */
  trueClassWins: [number, number] | null;
  trueClassWinsClipped: [number, number] | null;
}

/**
 * R² = 1 − SS_res/SS_tot of the least-squares line y ≈ a + b·x, in float64 (1 when y is constant).
 * @example
 *   rSquared([0, 1, 2], [1, 3, 5]);  // 1
 */
export function rSquared(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  if (n !== y.length || n < 2) throw new Error(`rSquared: need two equally long arrays of ≥ 2 values, got ${n} and ${y.length}`);
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxx = 0, sxy = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx, dy = y[i] - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (syy === 0) return 1;
  const b = sxx === 0 ? 0 : sxy / sxx;
  let ssRes = 0;
  for (let i = 0; i < n; i++) {
    const r = y[i] - my - b * (x[i] - mx);
    ssRes += r * r;
  }
  return 1 - ssRes / syy;
}

// The run of grid points around the middle (ε = 0) where argmax(logits[i]) === label (first index wins ties,
// as in evaluate's argmax).
function winningInterval(eps: number[], logits: number[][], label: number): [number, number] | null {
  const wins = (i: number) => {
    const row = logits[i];
    let best = 0;
    for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
    return best === label;
  };
  const mid = (eps.length - 1) / 2;
  if (!wins(mid)) return null;
  let lo = mid, hi = mid;
  while (lo > 0 && wins(lo - 1)) lo--;
  while (hi < eps.length - 1 && wins(hi + 1)) hi++;
  return [eps[lo], eps[hi]];
}

/**
 * Sweep ε over `points` values (odd, so that 0 is one of them) in [−maxEps, maxEps] along d = sign(∇ₓJ(x, label)),
 * running the 2·points inputs (unclipped and clipped) through the model in one batched forward, in eval mode.
 * @example
 *   const r = fgsmSweep(model, x, 7, { maxEps: 0.5, points: 41 });   // x: [1, 1, 28, 28]
 *   r.r2;                 // per-class linearity of the unclipped logits
 */
export function fgsmSweep(model: Sequential, x: Tensor, label: number, opts: { maxEps: number; points: number }): SweepResult {
  const { maxEps, points } = opts;
  if (x.ndim < 2 || x.shape[0] !== 1) throw new Error(`fgsmSweep: x must be one image [1, C, H, W], got ${shapeStr(x.shape)}`);
  if (!(Number.isFinite(maxEps) && maxEps > 0)) throw new Error(`fgsmSweep: maxEps must be a positive number, got ${maxEps}`);
  if (!Number.isInteger(points) || points < 3 || points % 2 === 0) {
    throw new Error(`fgsmSweep: points must be an odd integer ≥ 3 (so that ε = 0 is on the grid), got ${points}`);
  }
  if (!Number.isInteger(label) || label < 0) throw new Error(`fgsmSweep: label must be a class index, got ${label}`);

  // d = sign(∇ₓJ(x, label)), once, at x (sign(0) = 0: pixels the loss ignores stay put).
  const { dx, logits: clean } = inputGradient(model, x, [label], { rescale: true }); // sign only: rescaled, so confident models keep a direction
  const K = clean.shape[1];
  if (label >= K) throw new Error(`fgsmSweep: label ${label} is not below the model's ${K} classes`);

  // ε_i = maxEps·(i − half)/half: exactly 0 in the middle and exactly symmetric.
  const half = (points - 1) / 2;
  const eps = Array.from({ length: points }, (_, i) => (maxEps * (i - half)) / half);

  // Rows 0..P−1: x + ε·d; rows P..2P−1: clip[0,1](x + ε·d).
  const D = x.size;
  const batch = alloc(x.dtype, 2 * points * D);
  for (let i = 0; i < points; i++) {
    const e = eps[i];
    for (let j = 0; j < D; j++) {
      const v = x.data[j] + e * Math.sign(dx.data[j]);
      batch[i * D + j] = v;
      batch[(points + i) * D + j] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  const xs = new Tensor(batch, [2 * points, ...x.shape.slice(1)]);
  const out = predict(model, xs);

  const rows = (from: number) => Array.from({ length: points }, (_, i) => Array.from(out.data.subarray((from + i) * K, (from + i + 1) * K)));
  const logitsUnclipped = rows(0);
  const logitsClipped = rows(points);
  const fit = (logits: number[][]) => Array.from({ length: K }, (_, k) => rSquared(eps, logits.map((r) => r[k])));
  return {
    label,
    eps,
    logitsUnclipped,
    logitsClipped,
    r2: fit(logitsUnclipped),
    r2Clipped: fit(logitsClipped),
    trueClassWins: winningInterval(eps, logitsUnclipped, label),
    trueClassWinsClipped: winningInterval(eps, logitsClipped, label),
  };
}
