// wᵀη against the input dimension n: with η = ε·sign(w), wᵀη = ε·Σ|wᵢ| = ε·m·n for m = mean |wᵢ|, so at a fixed
// m a perturbation of fixed max-norm ε moves a linear unit by an amount that grows linearly with n.
// Goodfellow, Shlens & Szegedy 2015 (arXiv 1412.6572), §3. Measured two ways: random w at a fixed m, and the class
// rows w_k [n] of a softmax model's weight [10, n] trained on MNIST resized to r×r (n = r²).
import { Rng } from '../engine/random.js';
import { Dense } from '../layers/dense.js';
import type { Sequential } from '../layers/sequential.js';
import { buildModel } from '../layers/spec.js';
import { zooSpec } from '../layers/zoo.js';
import { loadDataset, subset, type Dataset } from '../data/datasets.js';
import { train } from '../train/loop.js';

export interface NScalingPoint {
  /** Input dimension. */
  n: number;
  /** Mean |wᵢ| of the weight vector measured. */
  m: number;
  eps: number;
  /** wᵀη for η = ε·sign(w), summed in float64. */
  wEta: number;
  /** ε·m·n. */
  predicted: number;
  source: 'random' | 'trained';
  /** Side r of the r×r images (trained points only). */
  resolution?: number;
}

function checkEps(fn: string, eps: number): void {
  if (!(Number.isFinite(eps) && eps >= 0)) throw new Error(`${fn}: eps must be a finite number ≥ 0, got ${eps}`);
}

/**
 * One point per n: w with |wᵢ| ~ U(0, 2m) rescaled so that mean |w| = m exactly, random signs (seeded, drawn
 * from Rng.derive(seed, n) so a point does not depend on the other ns), and wᵀη for η = ε·sign(w).
 * @example
 *   const pts = randomNScaling({ ns: [100, 1000, 10000], m: 0.05, eps: 0.1, seed: 0 });
 *   pts[2].wEta;   // 50 = 0.1 · 0.05 · 10000
 */
export function randomNScaling(opts: { ns: number[]; m: number; eps: number; seed: number }): NScalingPoint[] {
  const fn = 'randomNScaling';
  const { ns, m, eps, seed } = opts;
  if (!Array.isArray(ns) || ns.length === 0 || !ns.every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(`${fn}: ns must be a non-empty array of positive integers, got ${JSON.stringify(ns)}`);
  }
  if (!(Number.isFinite(m) && m > 0)) throw new Error(`${fn}: m must be a positive number, got ${m}`);
  checkEps(fn, eps);
  return ns.map((n) => {
    const rng = Rng.derive(seed, n);
    const w = new Float64Array(n);
    let sumAbs = 0;
    for (let i = 0; i < n; i++) {
      w[i] = rng.uniform(0, 2 * m);
      sumAbs += w[i];
    }
    const scale = sumAbs > 0 ? (m * n) / sumAbs : 0;
    for (let i = 0; i < n; i++) w[i] *= rng.next() < 0.5 ? -scale : scale;
    // wᵀη with η = ε·sign(w)
    let wEta = 0, abs = 0;
    for (let i = 0; i < n; i++) {
      wEta += w[i] * eps * Math.sign(w[i]);
      abs += Math.abs(w[i]);
    }
    return { n, m: abs / n, eps, wEta, predicted: eps * m * n, source: 'random' as const };
  });
}

/**
 * m = mean |w| over the whole weight [out, in] of the model's first Dense layer: the m that randomNScaling's
 * points compare the model with; 0 when the model has no Dense layer.
 * @example
 *   const m = firstDenseMeanAbsW(model);
 *   if (m > 0) randomNScaling({ ns: [16, 784], m, eps: 0.25, seed: 0 });
 */
export function firstDenseMeanAbsW(model: Sequential): number {
  const first = model.layers.find((l): l is Dense => l instanceof Dense);
  let m = 0;
  if (first) for (const w of first.weight.data) m += Math.abs(w) / first.weight.size;
  return m;
}

/**
 * Resize every image to size×size by exact area averaging (a box filter with fractional overlaps, separable):
 * shrinking averages the source pixels each output pixel covers; growing by an integer factor repeats pixels
 * (nearest neighbour). Values stay in [0, 1]; channels and labels are kept.
 * @example
 *   const small = resizeDataset(loadDataset('mnist', 'train'), 14);   // 2×2 averages
 *   small.height;  // 14
 */
export function resizeDataset(ds: Dataset, size: number): Dataset {
  if (!Number.isInteger(size) || size < 1) throw new Error(`resizeDataset: size must be a positive integer, got ${size}`);
  const { count, channels: C, height: H, width: W } = ds;
  const Ry = boxWeights(H, size), Rx = boxWeights(W, size);
  const images = new Float32Array(count * C * size * size);
  const tmp = new Float64Array(size * W);
  for (let p = 0; p < count * C; p++) {
    const src = ds.images.subarray(p * H * W, (p + 1) * H * W);
    // rows first: tmp[i, x] = Σ_y Ry[i, y]·src[y, x]
    tmp.fill(0);
    for (let i = 0; i < size; i++) {
      for (const [y, a] of Ry[i]) for (let x = 0; x < W; x++) tmp[i * W + x] += a * src[y * W + x];
    }
    // then columns: out[i, j] = Σ_x tmp[i, x]·Rx[j, x]
    const o = p * size * size;
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        let s = 0;
        for (const [x, a] of Rx[j]) s += a * tmp[i * W + x];
        images[o + i * size + j] = s < 0 ? 0 : s > 1 ? 1 : s;
      }
    }
  }
  return { ...ds, images, labels: ds.labels.slice(), height: size, width: size, name: `${ds.name}@${size}x${size}` };
}

// Row i of the box filter from `from` pixels to `to`: output pixel i covers source [i·from/to, (i+1)·from/to);
// each source pixel j weighs (overlap of [j, j+1) with that box) / (box length). Weights of a row sum to 1.
function boxWeights(from: number, to: number): [number, number][][] {
  const len = from / to;
  return Array.from({ length: to }, (_, i) => {
    const a = i * len, b = (i + 1) * len;
    const row: [number, number][] = [];
    for (let j = Math.floor(a); j < Math.min(from, Math.ceil(b)); j++) {
      const overlap = Math.min(b, j + 1) - Math.max(a, j);
      if (overlap > 0) row.push([j, overlap / len]);
    }
    return row;
  });
}

/**
 * For each resolution r: resize the first `limit` digits of loadDataset('mnist', 'train') to r×r, train a softmax
 * model (Adam 1e-3, batch 128, `epochs`, seeded) and return ONE POINT PER CLASS ROW w_k of its weight [10, r²]
 * (n = r², m = mean |w_k|, wEta = ε·Σ|w_k|, which is wᵀη for η = ε·sign(w_k)), ordered by resolution, then class.
 * Per-class points (rather than their mean) show the spread of m between classes at each n.
 * @example
 *   const pts = await trainedNScaling({ resolutions: [14, 28, 56], eps: 0.1, epochs: 2, limit: 10000, seed: 0 });
 *   pts.filter((p) => p.n === 784).length;   // 10
 */
export async function trainedNScaling(opts: { resolutions: number[]; eps: number; epochs: number; limit: number; seed: number }): Promise<NScalingPoint[]> {
  const fn = 'trainedNScaling';
  const { resolutions, eps, epochs, limit, seed } = opts;
  if (!Array.isArray(resolutions) || resolutions.length === 0 || !resolutions.every((r) => Number.isInteger(r) && r > 0)) {
    throw new Error(`${fn}: resolutions must be a non-empty array of positive integers, got ${JSON.stringify(resolutions)}`);
  }
  checkEps(fn, eps);
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`${fn}: limit must be a positive integer, got ${limit}`);
  const full = loadDataset('mnist', 'train');
  const digits = subset(full, 0, Math.min(limit, full.count));
  const points: NScalingPoint[] = [];
  for (const r of resolutions) {
    const data = resizeDataset(digits, r);
    const model = buildModel(zooSpec('softmax', [data.channels, r, r], data.numClasses), { seed });
    await train(model, data, { epochs, batchSize: 128, optimizer: 'adam', lr: 1e-3, seed });
    const weight = model.parameters().find(([name]) => name.endsWith('.weight'));
    if (!weight) throw new Error(`${fn}: the softmax model has no weight parameter`);
    const [K, n] = weight[1].shape;
    const w = weight[1].data;
    for (let k = 0; k < K; k++) {
      let abs = 0;
      for (let i = 0; i < n; i++) abs += Math.abs(w[k * n + i]);
      const m = abs / n;
      points.push({ n, m, eps, wEta: eps * abs, predicted: eps * m * n, source: 'trained', resolution: r });
    }
  }
  return points;
}
