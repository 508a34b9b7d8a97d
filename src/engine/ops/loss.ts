// Log-softmax and the fused softmax cross-entropy, both over the last axis of logits [N, C].
// Computed from logits in float64 with the max subtracted (log-sum-exp): log-softmax as (z − m) − log s, and the
// true-class gradient entry p_y − 1 as −Σ_{c≠y} p_c, so a confident example's gradient is the float32 rounding of the
// true value, not the rounding noise of 1 − p_y. Below float32's range (a logit gap beyond ~88–103) the entries
// themselves underflow; crossEntropyDirection gives the per-example rescaled gradient that attacks use there.
import { apply, type Op } from '../tape.js';
import { Tensor, alloc, shapeStr } from '../tensor.js';
import { expect, expectRank } from './check.js';

export type Reduction = 'mean' | 'sum' | 'none';
export type Labels = ArrayLike<number>;

/**
 * Row-wise log-softmax of z [N, C] into out, in float64: (z − m) − log s with s = Σ exp(z − m) = 1 + Σ_{c≠a} exp(z_c − m)
 * (a the argmax), log s as log1p of that sum, so a confident row's −log p_a is e.g. 3.8e−44 at a gap of 100, not 0.
 */
function logSoftmaxRows(z: Float32Array | Float64Array, N: number, C: number, out: Float32Array | Float64Array): void {
  for (let n = 0; n < N; n++) {
    const r = n * C;
    let a = 0;
    for (let c = 1; c < C; c++) if (z[r + c] > z[r + a]) a = c;
    const m = z[r + a];
    let other = 0;
    for (let c = 0; c < C; c++) if (c !== a) other += Math.exp(z[r + c] - m);
    const logS = Math.log1p(other);
    for (let c = 0; c < C; c++) out[r + c] = z[r + c] - m - logS;
  }
}

/**
 * One row's softmax in float64 into p, with 1 − p_a for the row's argmax a computed as Σ_{c≠a} p_c (no
 * cancellation); for every other class p_c ≤ 1/2, so 1 − p_c is exact enough as it is. Returns a and 1 − p_a.
 */
function softmaxRow(z: Float32Array | Float64Array, r: number, C: number, p: Float64Array): { a: number; rest: number } {
  let a = 0;
  for (let c = 1; c < C; c++) if (z[r + c] > z[r + a]) a = c;
  const m = z[r + a];
  let other = 0;
  for (let c = 0; c < C; c++) {
    p[c] = c === a ? 1 : Math.exp(z[r + c] - m);
    if (c !== a) other += p[c];
  }
  const s = 1 + other;
  for (let c = 0; c < C; c++) p[c] /= s;
  return { a, rest: other / s };
}

function checkLabels(op: string, logits: Tensor, labels: Labels): void {
  expectRank(op, 'logits', logits, 2, '[N, C]');
  const [N, C] = logits.shape;
  expect(labels.length === N, `${op}: ${labels.length} labels for logits ${shapeStr(logits.shape)}`);
  for (let n = 0; n < N; n++) {
    const y = labels[n];
    if (!Number.isInteger(y) || y < 0 || y >= C) throw new Error(`${op}: label ${y} at index ${n} is not a class in 0..${C - 1}`);
  }
}

export const lossOps = {
  logSoftmax: {
    name: 'logSoftmax',
    forward([z]) {
      expectRank('logSoftmax', 'z', z, 2, '[N, C]');
      const [N, C] = z.shape;
      const out = Tensor.zeros(z.shape, z.dtype);
      logSoftmaxRows(z.data, N, C, out.data);
      return { out, saved: null };
    },
    // dZ = dY − softmax(z)·Σ_c dY   (float64 from z; the argmax entry as dY_a·(1 − p_a) − p_a·Σ_{c≠a} dY_c)
    backward(dOut, { inputs: [z] }) {
      const [N, C] = z.shape;
      const dZ = Tensor.zeros(z.shape, z.dtype);
      const g = dOut.data, r = dZ.data;
      const p = new Float64Array(C);
      for (let n = 0; n < N; n++) {
        const o = n * C;
        const { a, rest } = softmaxRow(z.data, o, C, p);
        let s = 0;
        for (let c = 0; c < C; c++) s += g[o + c];
        let sOther = 0;
        for (let c = 0; c < C; c++) if (c !== a) sOther += g[o + c];
        for (let c = 0; c < C; c++) r[o + c] = c === a ? g[o + c] * rest - p[c] * sOther : g[o + c] - p[c] * s;
      }
      return [dZ];
    },
  } as Op<unknown, null>,

  softmaxCrossEntropy: {
    name: 'softmaxCrossEntropy',
    forward([z], { labels, reduction }) {
      checkLabels('softmaxCrossEntropy', z, labels);
      const [N, C] = z.shape;
      const logp = new Float64Array(z.size);
      logSoftmaxRows(z.data, N, C, logp);
      const per = alloc(z.dtype, N);
      let s = 0;
      for (let n = 0; n < N; n++) {
        per[n] = -logp[n * C + labels[n]];
        s -= logp[n * C + labels[n]];
      }
      if (reduction === 'none') return { out: new Tensor(per, [N]), saved: null };
      return { out: Tensor.from([reduction === 'mean' ? s / Math.max(N, 1) : s], [], z.dtype), saved: null };
    },
    // dZ = (softmax(z) − onehot(y)) · dL   (· 1/N for the mean); float64 from z, p_y − 1 as −Σ_{c≠y} p_c
    backward(dOut, { inputs: [z], attrs: { labels, reduction } }) {
      const [N, C] = z.shape;
      const dZ = Tensor.zeros(z.shape, z.dtype);
      const r = dZ.data, g = dOut.data;
      const p = new Float64Array(C);
      for (let n = 0; n < N; n++) {
        const gn = reduction === 'none' ? g[n] : reduction === 'mean' ? g[0] / N : g[0];
        const { a, rest } = softmaxRow(z.data, n * C, C, p);
        const y = labels[n];
        for (let c = 0; c < C; c++) r[n * C + c] = c === y ? -(y === a ? rest : 1 - p[c]) * gn : p[c] * gn;
      }
      return [dZ];
    },
  } as Op<{ labels: Labels; reduction: Reduction }, null>,
};

/** log softmax over the last axis of [N, C]. @example const logp = logSoftmax(model.forward(x)); */
export const logSoftmax = (z: Tensor): Tensor => apply(lossOps.logSoftmax, [z], {});

/**
 * Cross-entropy of softmax(logits) against integer labels, fused and numerically stable.
 * @example
 *   const loss = softmaxCrossEntropy(logits, labels);      // mean over the batch
 */
export const softmaxCrossEntropy = (z: Tensor, labels: Labels, reduction: Reduction = 'mean'): Tensor =>
  apply(lossOps.softmaxCrossEntropy, [z], { labels, reduction });

/**
 * The cross-entropy gradient w.r.t. the logits of each example rescaled by the positive factor 1/(1 − p_t), with the
 * per-example losses (no gradient recorded): dZ[n, c] = p_c/(1 − p_t) = exp(z_c − logsumexp_{j≠t} z_j) for c ≠ t,
 * dZ[n, t] = −1. Computed in float64 from the logits, so it never underflows (its largest entries are ≥ 1/(C − 1))
 * however confident the model: the direction of ∇x J survives where p_c underflows float32 (a logit gap beyond ~88).
 * Sign steps and normalised steps do not depend on a positive per-example factor, so attacks backpropagate this
 * instead of ∂J/∂z. logits [N, C], classes [N] (labels, or targets); dZ [N, C] in the logits' dtype, losses [N]
 * = −log p_t in float64. Throws like softmaxCrossEntropy on a bad class.
 * @example
 *   const { dZ, losses } = crossEntropyDirection(logits, labels);
 *   const dx = grad(sum(mul(logits, dZ)), [x])[0];   // ∇x J up to a positive factor per example
 */
export function crossEntropyDirection(z: Tensor, classes: Labels): { dZ: Tensor; losses: Float64Array } {
  checkLabels('crossEntropyDirection', z, classes);
  const [N, C] = z.shape;
  const d = z.data;
  const dZ = Tensor.zeros(z.shape, z.dtype);
  const r = dZ.data;
  const losses = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const o = n * C, t = classes[n];
    let a = 0, mo = -Infinity; // argmax over all classes, max over c ≠ t
    for (let c = 0; c < C; c++) {
      if (d[o + c] > d[o + a]) a = c;
      if (c !== t && d[o + c] > mo) mo = d[o + c];
    }
    const m = d[o + a];
    let other = 0, so = 0;
    for (let c = 0; c < C; c++) {
      if (c !== a) other += Math.exp(d[o + c] - m);
      if (c !== t) so += Math.exp(d[o + c] - mo);
    }
    losses[n] = m - d[o + t] + Math.log1p(other);
    // p_c/(1 − p_t) = exp(z_c − mo)/so
    for (let c = 0; c < C; c++) r[o + c] = c === t ? -1 : C > 1 ? Math.exp(d[o + c] - mo) / so : 0;
  }
  return { dZ, losses };
}

/** Log-probabilities of logits [N, C] as float64 ((z − m) − log s per row; no gradient). @example const lp = logProbabilities(logits); */
export function logProbabilities(z: Tensor): Float64Array {
  expectRank('logProbabilities', 'z', z, 2, '[N, C]');
  const out = new Float64Array(z.size);
  logSoftmaxRows(z.data, z.shape[0], z.shape[1], out);
  return out;
}

/** Softmax probabilities of logits [N, C] (no gradient). @example const p = softmax(logits); */
export function softmax(z: Tensor): Tensor {
  expectRank('softmax', 'z', z, 2, '[N, C]');
  const out = Tensor.zeros(z.shape, z.dtype);
  logSoftmaxRows(z.data, z.shape[0], z.shape[1], out.data);
  const d = out.data;
  for (let i = 0; i < d.length; i++) d[i] = Math.exp(d[i]);
  return out;
}
